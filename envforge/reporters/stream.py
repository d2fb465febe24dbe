"""The events of a verification run and the reporters that subscribe to them.

A run is `started`, then one `verdict` per model version as it is judged (in any order: groups run in
parallel), then `ended` with everything the run knows at its end; then every reporter is `closed`. `envforge
verify` is a run of one verdict. A reporter is chosen for a run by the options given (`catalog.py`) and
overrides only the events it needs; a dispatcher feeds every chosen reporter each event, in the catalog's
order (so --log-to's MLflow run, last, finds the report files the writers before it made)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envforge.result import VerifyResult

VERIFY, VERIFY_REGISTRY = "verify", "verify-registry"


@dataclass
class Context:
    """What a reporter may read when it is chosen: where to print, which files were asked for, the run's settings."""

    command: str
    out: Any = None  # the console of verdict lines (rich)
    err: Any = None  # the console of progress lines and warnings
    console: bool = True  # False: files only (a registry listing refused before any verdict)
    quiet: bool = False
    json_path: Path | None = None  # with --log-to, the files not asked for are in a temporary directory
    junit_path: Path | None = None
    html_path: Path | None = None
    asked: list[Path | None] = field(default_factory=list)  # the files the user named (the "wrote ..." line)
    shown: Callable[[Path], str] = str  # how a file is named in "wrote ...": `--json -` is "- (stdout)"
    tracking_uri: str = ""
    log_to: str | None = None
    tag_results: bool = False
    started_ms: int = 0
    options: Any = None  # every parsed option (argparse.Namespace), for a reporter with its own


@dataclass(frozen=True)
class RunStarted:
    command: str
    planned: int  # model versions to verify (each resolution counted)


@dataclass(frozen=True)
class Verdict:
    label: str  # how the version is named to the user: NAME/VERSION, or the URI
    result: VerifyResult
    target: Any = None  # registry.select.Target (verify-registry)
    resolve: str | None = None  # the resolution's label when --resolve names several


@dataclass(frozen=True)
class RunEnded:
    results: list[VerifyResult]  # every verdict, in the order the reports list them
    run: Any = None  # registry.run.RegistryRun: the resolutions' runs merged (verify-registry)
    passes: list[Any] = field(default_factory=list)  # registry.drift.Pass, one per resolution
    changes: list[dict[str, str]] | None = None  # status changes since --previous (None: not asked)
    drift: list[dict[str, Any]] = field(default_factory=list)  # a drift verdict per version (two resolutions)


class Reporter:
    """Subscribe to the events you need; `failure` is an error to say after the verdicts (the run stands)."""

    failure: Any = None

    def started(self, event: RunStarted) -> None:
        pass

    def verdict(self, event: Verdict) -> None:
        pass

    def ended(self, event: RunEnded) -> None:
        pass

    def closed(self) -> None:
        pass


class Dispatcher:
    """Feeds each event to every subscribed reporter, in order."""

    def __init__(self, reporters: list[Reporter]) -> None:
        self.reporters = reporters

    def started(self, event: RunStarted) -> None:
        for reporter in self.reporters:
            reporter.started(event)

    def verdict(self, event: Verdict) -> None:
        for reporter in self.reporters:
            reporter.verdict(event)

    def ended(self, event: RunEnded) -> None:
        for reporter in self.reporters:
            reporter.ended(event)
        for reporter in self.reporters:
            reporter.closed()

    def failures(self) -> list[Any]:
        return [r.failure for r in self.reporters if r.failure is not None]
