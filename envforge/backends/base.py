"""The Backend protocol every backend module satisfies, and what they share."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

# One translation of index settings and offline mode for every backend (index_args & co.).
from envforge.backends.index import OFFLINE_REMEDY, index_args, index_overrides, install_remedy, installer_env, user_index_options  # noqa: F401
from envforge.errors import EnvBuildError
from envforge.interpreters import Choice, choose
from envforge.proc import Outcome
from envforge.redact import redact
from envforge.spec import EnvSpec

Log = Callable[[str], None]


@dataclass(frozen=True)
class BuildOptions:
    python: str | None = None           # --python PATH
    python_match: str = "auto"          # exact | minor | auto
    allow_python_download: bool = False
    offline: bool = False               # any index access is an error (see backends/index.py)
    timeout: float = 1800.0             # --build-timeout: each step of a build (env creation, each install)
    download_timeout: float = 600.0     # --download-timeout: fetching the model from the tracking server
    pass_env: tuple[str, ...] = ()      # --pass-env NAME: variables the model's process may see (else a minimal env)
    index_url: str | None = None        # --index-url: replaces the model's
    extra_index_urls: tuple[str, ...] = ()  # --extra-index-url (repeatable)
    find_links: tuple[str, ...] = ()    # --find-links (repeatable)
    # conda backend (backends/conda/): --channel replaces conda.yaml's channels, --lockfile installs a
    # conda-lock file instead of solving, --conda-exe solves with conda/mamba/micromamba instead of py-rattler.
    channels: tuple[str, ...] = ()
    lockfile: str | None = None
    conda_exe: str | None = None
    # docker backend (backends/docker/): the image to build on, a CA bundle trusted during the build,
    # a name for the verified image (with a serving entrypoint), keep the model image, run limits.
    base_image: str | None = None
    ca_bundle: str | None = None
    tag: str | None = None
    keep_image: bool = False
    memory: str = "4g"
    # --resolve logged|latest|DATE (envforge/asof.py); None: envforge's default (logged, falling back to latest
    # with a warning where the index cannot honour it). The moment itself is EnvSpec.resolved_as_of.
    resolve: str | None = None


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


class Executor(Protocol):
    """How the runner is started for one model (envforge.predict.execute_runner drives it)."""

    model_dir: str  # the model directory as the runner sees it

    def execute(self, workdir: Path, timeout: float) -> Outcome:
        """Run the runner on workdir/request.json, leaving workdir/result.json behind."""

    def finish(self, passed: bool) -> dict[str, Any] | None:
        """After the verdict: keep or discard what was run (an image); what to report about it."""


@runtime_checkable
class ContainerBackend(Backend, Protocol):
    """A backend whose environments are images: the runner runs in a container, not on the host.
    The other backends get a host subprocess built from `command()` (predict.open_executor)."""

    def specialize(self, spec: EnvSpec, options: BuildOptions) -> EnvSpec:
        """The spec with what else the image depends on (base image, CA bundle) in its key."""

    def executor(self, env: Env, model_dir: Path, options: BuildOptions, log: Log) -> AbstractContextManager[Executor]:
        """A runner executor for `model_dir` in `env`, cleaned up when the block ends."""

    def interactive(self, env_dir: Path, model_dir: Path | None, argv: list[str], *, tty: bool) -> list[str]:
        """argv for a user's command in a container of the env (`envforge shell` / `run`), the model mounted."""


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
    """Raise EnvBuildError naming what failed (the installer's error headline), with an excerpt of its output."""
    if outcome.ok:
        return outcome
    from envforge.backends.failure import summarize

    headline, excerpt = summarize(outcome)  # the first line (the report's reason) names the package and pin
    message = f"{what} failed: {headline}.\n{outcome.describe()}:\n" if headline else f"{what} failed: {outcome.describe()}.\n"
    raise EnvBuildError(redact(f"{message}{excerpt}\n"), remedy)


def venv_python(dest: Path) -> Path:
    return dest / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def choose_interpreter(spec: EnvSpec, options: BuildOptions, log: Log) -> Choice:
    """The host interpreter a venv-based backend (uv, virtualenv) builds from: one policy, one call, for all."""
    choice = choose(spec.python, match=options.python_match, explicit=options.python,
                    allow_download=options.allow_python_download, offline=options.offline)
    log(f"python {choice.interpreter.version}: {choice.reason}")
    return choice


def built_from(choice: Choice, python: str, installed: tuple[str, ...], cutoff: Any = None) -> Built:
    """A venv-based backend's report: the env's python, which host interpreter it came from, and why;
    cutoff (backends/cutoff.py): the as-of moment really used and its notes."""
    where = choice.interpreter.path
    reason = choice.reason if where in choice.reason else f"{choice.reason}: {where}"
    return Built(python=python, python_version=choice.interpreter.version, interpreter_reason=reason,
                 interpreter_warning=choice.warning, installed=installed,
                 resolved_as_of=cutoff.moment if cutoff else None, notes=tuple(cutoff.notes) if cutoff else ())
