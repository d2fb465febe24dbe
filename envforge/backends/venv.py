"""What the venv-based backends (uv, virtualenv) share: the interpreter policy, requirement files for the
installer, the health check, running a command, and the exact pip-style lock of a built env.

A backend class that derives from VenvBackend implements `available` and `build`; the rest is here once.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from envforge.backends.base import Built, Env, Log, WrittenLock
from envforge.backends.build_options import BuildOptions
from envforge.interpreters import Choice, choose
from envforge.processes.proc import run
from envforge.spec import EnvSpec
from envforge.spec.asof import AsOf

if TYPE_CHECKING:
    from envforge.backends.cutoff import Cutoff


class VenvBackend:
    """Shared hooks of a backend whose env is a virtual environment on this machine."""

    name = "venv"
    uses_pip_locks = True
    lock_remedy = ""

    def specialize(self, spec: EnvSpec, model_dir: Path, options: BuildOptions) -> EnvSpec:
        return spec

    def limit_as_of(self, as_of: AsOf, warnings: tuple[str, ...], options: BuildOptions) -> tuple[AsOf, tuple[str, ...]]:
        """uv takes the moment as --exclude-newer; for pip, uv compiles the set as of it (backends/cutoff.py)."""
        return as_of, warnings

    def health_check(self, env_dir: Path, python: str) -> str | None:
        if not Path(python).is_file():
            return f"its interpreter {python} is gone"
        probe = run([python, "-I", "-c", "import sys"], timeout=60)
        return None if probe.ok else f"its interpreter does not start ({probe.describe()}: {probe.tail(3).strip()})"

    def command(self, env_dir: Path, python: str, argv: list[str]) -> list[str]:
        return [python, *argv[1:]] if argv and argv[0] == "python" else list(argv)

    def remove(self, env_dir: Path) -> None:
        """A venv owns nothing outside its directory."""

    def lock(self, spec: EnvSpec, model_dir: Path, uri: str, options: BuildOptions, log: Log,
             open_env: Callable[[], Env]) -> WrittenLock:
        from envforge.backends.exact_lock import write_exact_lock

        return write_exact_lock(open_env(), spec, model_dir, uri, options)


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


def venv_python(dest: Path) -> Path:
    return dest / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def choose_interpreter(spec: EnvSpec, options: BuildOptions, log: Log) -> Choice:
    """The host interpreter a venv-based backend (uv, virtualenv) builds from: one policy, one call, for all."""
    choice = choose(spec.python, match=options.python_match, explicit=options.python,
                    allow_download=options.allow_python_download, offline=options.offline)
    log(f"python {choice.interpreter.version}: {choice.reason}")
    return choice


def built_from(choice: Choice, python: str, installed: tuple[str, ...], cutoff: Cutoff | None = None) -> Built:
    """A venv-based backend's report: the env's python, which host interpreter it came from, and why;
    cutoff (backends/cutoff.py): the as-of moment really used and its notes."""
    where = choice.interpreter.path
    reason = choice.reason if where in choice.reason else f"{choice.reason}: {where}"
    return Built(python=python, python_version=choice.interpreter.version, interpreter_reason=reason,
                 interpreter_warning=choice.warning, installed=installed,
                 resolved_as_of=cutoff.moment if cutoff else None, notes=tuple(cutoff.notes) if cutoff else ())
