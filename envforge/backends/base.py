"""The Backend protocol every backend module satisfies, and what they share."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from envforge.errors import EnvBuildError
from envforge.proc import Outcome
from envforge.redact import redact
from envforge.spec import EnvSpec

Log = Callable[[str], None]


@dataclass(frozen=True)
class BuildOptions:
    python: str | None = None           # --python PATH
    python_match: str = "auto"          # exact | minor | auto
    allow_python_download: bool = False
    offline: bool = False
    timeout: float = 1800.0


@dataclass(frozen=True)
class Built:
    """What a backend reports about an environment it has just built."""

    python: str                       # the env's interpreter
    python_version: str
    interpreter_reason: str
    interpreter_warning: str | None = None
    installed: tuple[str, ...] = field(default=())  # "name==version" lines


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


class Backend(Protocol):
    name: str

    def available(self) -> str | None:
        """None when usable here, else why not (with the remedy)."""

    def build(self, spec: EnvSpec, model_dir: Path, dest: Path, options: BuildOptions, log: Log) -> Built:
        """Create the environment at `dest` (an empty path); raise EnvBuildError on failure."""

    def health_check(self, env_dir: Path, python: str) -> bool:
        """True when a previously built env at env_dir still works."""

    def command(self, env_dir: Path, python: str, argv: list[str]) -> list[str]:
        """argv to run `argv` (starting with "python") inside the env."""


def requirement_lines(spec: EnvSpec, model_dir: Path, items: tuple[str, ...]) -> list[str]:
    """Requirement lines with "./relative" local files turned into absolute paths."""
    return [str(spec.local_file(model_dir, item)) if item.startswith("./") else item for item in items]


@contextmanager
def requirement_files(spec: EnvSpec, model_dir: Path) -> Iterator[tuple[Path, Path | None]]:
    """Temporary requirements (build deps first) and constraints files for pip/uv."""
    with tempfile.TemporaryDirectory(prefix="envforge-req-") as tmp:
        reqs = Path(tmp) / "requirements.txt"
        lines = list(spec.build_dependencies) + requirement_lines(spec, model_dir, spec.requirements)
        reqs.write_text("\n".join(lines) + "\n")
        constraints = None
        if spec.constraints:
            constraints = Path(tmp) / "constraints.txt"
            constraints.write_text("\n".join(requirement_lines(spec, model_dir, spec.constraints)) + "\n")
        yield reqs, constraints


def check(outcome: Outcome, what: str, remedy: str) -> Outcome:
    """Raise EnvBuildError with the tail of the tool's output when it failed."""
    if outcome.ok:
        return outcome
    tail = redact(outcome.tail(25))
    raise EnvBuildError(f"{what} failed: {redact(outcome.describe())}.\n{tail}\n", remedy)


def venv_python(dest: Path) -> Path:
    return dest / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
