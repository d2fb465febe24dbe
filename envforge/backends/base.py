"""The Backend protocol every backend module satisfies, the types it speaks, and `check` for failed steps.

Every hook a backend may have is declared here (pre-commit's language protocol): building, the health
check that says *why* an env is not usable, running a command in it, what else it owns outside its
directory (`remove`), how its env is locked (`lock`), what it adds to a spec's key (`specialize`).
The venv-based backends share their behaviour in backends/venv.py.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from envforge.backends.build_options import BuildOptions
from envforge.backends.run_options import RunOptions
from envforge.errors import EnvBuildError
from envforge.processes.proc import Outcome
from envforge.redact import redact
from envforge.spec import EnvSpec
from envforge.spec.asof import AsOf

Log = Callable[[str], None]

__all__ = ["Backend", "BuildOptions", "Built", "ContainerBackend", "Env", "Executor", "WrittenLock", "Log", "check"]


@dataclass(frozen=True)
class Built:
    """What a backend reports about an environment it has just built."""

    python: str                       # the env's interpreter
    python_version: str
    interpreter_reason: str
    interpreter_warning: str | None = None
    installed: tuple[str, ...] = field(default=())  # "name==version" lines
    resolved_as_of: str | None = None  # the cutoff the installer really used (None: today's index)
    notes: tuple[str, ...] = field(default=())  # warnings about the build (e.g. the cutoff dropped)
    # Set when the install is not yet confirmed (backends/speculative.py): confirm(stop) waits for it; None once
    # confirmed, else it calls stop() (a runner started in the env ends), rebuilds, and returns the new report.
    confirm: Callable[[Callable[[], None]], Built | None] | None = field(default=None, compare=False, repr=False)
    # With confirm: stops the index's confirmation (its `uv pip compile`) when the build fails before confirm is called.
    abandon: Callable[[], None] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Env:
    """A built, health-checked environment in the cache."""

    path: Path
    key: str
    backend: str
    python: str
    python_version: str
    interpreter_reason: str
    interpreter_warning: str | None
    installed: tuple[str, ...]
    reused: bool
    build_seconds: float
    resolved_as_of: str | None = None   # as Built's: the cutoff really used
    notes: tuple[str, ...] = ()
    rebuilt_because: str | None = None  # a cached env was found unusable (damaged, unhealthy) and rebuilt: why


@dataclass(frozen=True)
class WrittenLock:
    """What `envforge lock` wrote: the lock's text and a one-line summary of it."""

    text: str
    summary: str


class Backend(Protocol):
    name: str
    uses_pip_locks: bool  # installs envforge's pip-style locks (`verify --lock`, `record --lock`)
    lock_remedy: str      # when it does not: what to pass instead

    def available(self) -> str | None:
        """None when usable here, else why not (with the remedy)."""

    def specialize(self, spec: EnvSpec, model_dir: Path, options: BuildOptions) -> EnvSpec:
        """The spec this backend builds: with what else the env depends on (a base image, a conda lock) in its key."""

    def limit_as_of(self, as_of: AsOf, warnings: tuple[str, ...], options: BuildOptions) -> tuple[AsOf, tuple[str, ...]]:
        """The as-of resolution this backend can honour of the one asked for (spec/asof.py), and the warnings to report."""

    def build(self, spec: EnvSpec, model_dir: Path, dest: Path, options: BuildOptions, log: Log) -> Built:
        """Create the environment at `dest` (an empty path); raise EnvBuildError on failure."""

    def health_check(self, env_dir: Path, python: str) -> str | None:
        """None when a previously built env at env_dir still works, else why it does not."""

    def command(self, env_dir: Path, python: str, argv: list[str]) -> list[str]:
        """argv to run `argv` (starting with "python") inside the env."""

    def remove(self, env_dir: Path) -> None:
        """Remove what the env owns outside its directory (an image), before the directory goes."""

    def lock(self, spec: EnvSpec, model_dir: Path, uri: str, options: BuildOptions, log: Log,
             open_env: Callable[[], Env]) -> WrittenLock:
        """`envforge lock`: the env's exact package set as a lock file's text; `open_env` builds (or reuses) the env
        for a backend whose lock is read from a built env."""


class Executor(Protocol):
    """How the runner is started (envforge.execution.executor drives it)."""

    model_dir: str  # the model directory as the runner sees it

    def execute(self, workdir: Path, timeout: float) -> Outcome:
        """Run the runner on workdir/request.json, leaving workdir/result.json behind."""

    def finish(self, passed: bool) -> dict[str, Any] | None:
        """After the verdict: keep or discard what was run (an image); what to report about it."""


@runtime_checkable
class ContainerBackend(Backend, Protocol):
    """A backend whose environments are images: the runner runs in a container, not on the host.
    The other backends get a host subprocess built from `command()` (execution.executor.open_executor)."""

    def executor(self, env: Env, model_dir: Path, options: BuildOptions, run: RunOptions,
                 log: Log) -> AbstractContextManager[Executor]:
        """A runner executor for `model_dir` in `env` (the model image built with `options`, run within
        `run`'s limits), cleaned up when the block ends."""

    def interactive(self, env_dir: Path, model_dir: Path | None, argv: list[str], *, tty: bool) -> list[str]:
        """argv for a user's command in a container of the env (`envforge shell` / `run`), the model mounted."""


def check(outcome: Outcome, what: str, remedy: str) -> Outcome:
    """Raise EnvBuildError naming what failed (the installer's error headline), with an excerpt of its output."""
    if outcome.ok:
        return outcome
    from envforge.backends.failure import summarize
    from envforge.backends.remedies import fitting

    headline, excerpt = summarize(outcome)  # the first line (the report's reason) names the package and pin
    headline = headline.rstrip(". ") if headline else headline  # one full stop, not `..`
    message = f"{what} failed: {headline}.\n{outcome.describe()}:\n" if headline else f"{what} failed: {outcome.describe()}.\n"
    raise EnvBuildError(redact(f"{message}{excerpt}\n"), fitting(outcome.stderr + outcome.stdout, remedy))
