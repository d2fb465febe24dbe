"""ModelDir -> EnvSpec: what an environment for this model must contain.

One small parser per file (mlmodel, python_env, conda_env, requirements, wheels), merged here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from envforge.errors import ModelDirError
from envforge.spec import fallbacks
from envforge.spec.backend_catalog import REGISTRY as BACKENDS
from envforge.spec.backend_catalog import entry as backend_entry
from envforge.spec.conda_env import read_conda_env
from envforge.spec.flavors import image_packages
from envforge.spec.mlmodel import MLmodel, read_mlmodel
from envforge.spec.paths import inside
from envforge.spec.python_env import read_python_env
from envforge.spec.requirements import Parsed, parse_file, parse_lines
from envforge.spec.system import read_system_packages
from envforge.spec.wheels import find_wheels, sha256_file

# Bump when the layout of a built environment changes, so old cached envs are not reused.
ENV_FORMAT = 1


@dataclass(frozen=True)
class EnvSpec:
    """Everything that determines a built environment. Frozen; `key` names it in the cache."""

    backend: str
    python: str | None
    python_source: str
    build_dependencies: tuple[str, ...]
    requirements: tuple[str, ...]
    constraints: tuple[str, ...]
    index_options: tuple[str, ...]
    code_wheels: tuple[str, ...]
    file_hashes: tuple[tuple[str, str], ...]  # ("./code/x.whl", sha256) for every local file used
    conda_dependencies: tuple[str, ...] = ()
    # The user's --index-url/--extra-index-url/--find-links: where packages come from is part of
    # what was built (another index may serve other files under the same name and version).
    index_overrides: tuple[str, ...] = ()
    # conda backend: the channels the conda dependencies come from (conda.yaml's, or the user's --channel).
    conda_channels: tuple[str, ...] = ()
    # apt packages the model declares (spec/system.py); only the docker backend installs them.
    system_packages: tuple[str, ...] = ()
    # What else a backend's env depends on ("name=value"), e.g. docker's base image id (specialize()).
    backend_options: tuple[str, ...] = ()
    # The moment unpinned requirements are resolved as of (--resolve, envforge/asof.py): an RFC 3339 UTC
    # timestamp, None for today's index. Another date can resolve another set, so it is part of the key.
    resolved_as_of: str | None = None
    notes: tuple[str, ...] = field(default=(), compare=False)
    gaps: tuple[str, ...] = field(default=(), compare=False)  # the notes that say how a missing file was filled (spec/fallbacks.py)
    # The key of another spec whose env this one uses: their resolutions are identical (building/same_resolution.py).
    shared_key: str | None = None

    @property
    def key(self) -> str:
        """The env this spec is built as: its own, or the one it shares (`shared_key`)."""
        return self.shared_key or self.own_key

    @property
    def own_key(self) -> str:
        """What this spec asks for, hashed: backend, python, requirements, indexes, files, cutoff, ..."""
        from envforge.redact import redact

        # Index URLs without their credentials: a rotated token names the same index and the key
        # (printed in reports) must not be derived from a secret.
        payload: dict[str, object] = {
            "format": ENV_FORMAT, "backend": self.backend, "python": self.python,
            "build": self.build_dependencies, "requirements": self.requirements,
            "constraints": self.constraints, "index": [redact(o) for o in self.index_options],
            "code_wheels": self.code_wheels, "files": self.file_hashes,
            "conda": self.conda_dependencies,
        }
        if self.index_overrides:
            payload["user_index"] = [redact(o) for o in self.index_overrides]
        if self.conda_channels:
            payload["channels"] = [redact(c) for c in self.conda_channels]
        if self.system_packages:
            payload["system"] = self.system_packages
        if self.backend_options:
            payload["backend_options"] = [redact(o) for o in self.backend_options]
        if self.resolved_as_of:
            payload["as_of"] = self.resolved_as_of
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def local_file(self, model_dir: Path, token: str) -> Path:
        """The absolute path of a "./relative" token, re-checked against the model directory."""
        return inside(model_dir, token[2:], f"the local file {token!r}")

    def to_dict(self) -> dict[str, object]:
        from envforge.redact import redact

        return {
            "key": self.key, "backend": self.backend, "python": self.python,
            "python_source": self.python_source, "build_dependencies": list(self.build_dependencies),
            "requirements": list(self.requirements), "constraints": list(self.constraints),
            "index_options": [redact(o) for o in self.index_options], "code_wheels": list(self.code_wheels),
            "files": dict(self.file_hashes), "conda_dependencies": list(self.conda_dependencies),
            "index_overrides": [redact(o) for o in self.index_overrides], "notes": list(self.notes),
            "conda_channels": [redact(c) for c in self.conda_channels],
            "system_packages": list(self.system_packages), "backend_options": [redact(o) for o in self.backend_options],
            "gaps": list(self.gaps),
            "resolved_as_of": self.resolved_as_of,
        }


def load_spec(model_dir: Path, backend: str = "uv", mlmodel: MLmodel | None = None,
              index_overrides: tuple[str, ...] = ()) -> EnvSpec:
    """index_overrides: the user's index options (backends.index.user_index_options), for the key."""
    traits = backend_entry(backend)  # what this backend reads and installs (spec/backend_catalog.py)
    model_dir = model_dir.resolve()
    mlmodel = mlmodel or read_mlmodel(model_dir)
    gaps: list[str] = []
    python, source, build, parsed, conda_deps, notes = _environment(model_dir, mlmodel, prefer_conda=traits.reads_conda_yaml, gaps=gaps)
    code_dir = mlmodel.code_dir or "code"
    inside(model_dir, code_dir, "python_function's `code` (the code_paths directory)")
    code_wheels = find_wheels(model_dir, code_dir)
    if mlmodel.wheels_platform is not None and build:
        notes.append("a WheeledModel: its requirements are its own wheels/, so the build dependencies of python_env.yaml "
                     f"({', '.join(build)}), which MLflow did not download with them, are not installed")
        build = []
    files = {**parsed.files, **code_wheels}
    system, system_file = read_system_packages(model_dir)
    if traits.installs_system_packages:  # a spark model's image gets a Java runtime (spec/flavors.py)
        system = tuple(dict.fromkeys([*system, *image_packages(mlmodel.flavors)]))
    if system and not traits.installs_system_packages:
        installers = [name for name, e in BACKENDS.items() if e.installs_system_packages]
        notes.append(f"{system_file} declares system packages ({', '.join(system)}); only --backend {' or '.join(installers)} installs them")
    if not any(_names_mlflow(line) for line in [*parsed.requirements, *(conda_deps if traits.reads_conda_yaml else [])]):
        parsed.requirements.append("mlflow")
        gaps.append("the model's requirements do not name mlflow; envforge adds an unpinned `mlflow` to load it")
    gaps += fallbacks.mlflow_date_gap(model_dir, mlmodel, [*parsed.requirements, *conda_deps])
    notes = [*gaps, *notes]
    return EnvSpec(
        backend=backend,
        python=python,
        python_source=source,
        build_dependencies=tuple(build),
        requirements=tuple(parsed.requirements),
        constraints=tuple(parsed.constraints),
        index_options=tuple(parsed.options),
        code_wheels=tuple(code_wheels),
        file_hashes=tuple(sorted((token, sha256_file(path)) for token, path in files.items())),
        conda_dependencies=tuple(conda_deps),
        index_overrides=tuple(index_overrides),
        conda_channels=_conda_channels(model_dir, mlmodel) if traits.reads_conda_yaml else (),
        system_packages=system,
        notes=tuple(notes),
        gaps=tuple(gaps),
    )


def _conda_channels(model_dir: Path, mlmodel: MLmodel) -> tuple[str, ...]:
    conda_file = _existing(model_dir, mlmodel.conda_file, "conda.yaml")
    try:
        return read_conda_env(conda_file).channels if conda_file else ()
    except ModelDirError:  # unreadable: _environment set it aside, with a gap saying so
        return ()


def _environment(model_dir: Path, mlmodel: MLmodel, prefer_conda: bool = False, *,
                 gaps: list[str]) -> tuple[str | None, str, list[str], Parsed, list[str], list[str]]:
    """prefer_conda (the conda backend): conda.yaml wins over python_env.yaml, and every conda spec of
    it (python and pip included) is a conda dependency. `gaps` collects the gaps filled (spec/fallbacks.py)."""
    notes: list[str] = []
    venv_file = _existing(model_dir, mlmodel.virtualenv_file, "python_env.yaml")
    conda_file = _existing(model_dir, mlmodel.conda_file, "conda.yaml")
    has_requirements = (model_dir / "requirements.txt").is_file()
    stand_in = venv_file.name if venv_file else ("requirements.txt" if has_requirements else None)
    conda = fallbacks.read_conda(conda_file, stand_in, gaps, prefer_conda)
    if venv_file and not (prefer_conda and conda):
        env = read_python_env(venv_file)
        gaps += fallbacks.missing_declared(mlmodel, venv_file, conda_file, venv_file.name, prefer_conda)
        parsed = fallbacks.python_env_requirements(env, venv_file, model_dir, conda, conda_file, gaps)
        python, source = _pick_python(env.python, "python_env.yaml", conda, mlmodel)
        return python, source, list(env.build_dependencies), parsed, [], notes
    if conda and conda_file:
        gaps += fallbacks.missing_declared(mlmodel, venv_file, conda_file, conda_file.name, prefer_conda)
        parsed = parse_lines(list(conda.pip), model_dir, conda_file.name)
        if conda.conda_dependencies and not prefer_conda:
            notes.append("conda-only dependencies are not installed by pip-based backends: " + ", ".join(conda.conda_dependencies))
        python, source = _pick_python(None, "", conda, mlmodel)
        return python, source, [], parsed, list(conda.specs if prefer_conda else conda.conda_dependencies), notes
    if has_requirements:
        gaps += fallbacks.missing_declared(mlmodel, venv_file, conda_file, "requirements.txt", prefer_conda)
        python, source = _pick_python(None, "", None, mlmodel)
        return python, source, [], parse_file("requirements.txt", model_dir), [], notes
    python, source = _pick_python(None, "", None, mlmodel)
    parsed, build = fallbacks.no_env_files(model_dir, mlmodel, gaps)
    return python, source, build, parsed, [], notes


def _names_mlflow(line: str) -> bool:
    import re

    if line.startswith("./"):  # a local wheel or archive: its file name starts with the project name
        line = line.rsplit("/", 1)[-1].split("-", 1)[0]
    name = re.match(r"[A-Za-z0-9_.\-]+", line.split("::")[-1])  # a conda spec may name its channel: conda-forge::mlflow=2.9
    return bool(name) and name.group(0).lower().replace("_", "-") in ("mlflow", "mlflow-skinny")


def _pick_python(venv_python: str | None, venv_source: str, conda: object, mlmodel: MLmodel) -> tuple[str | None, str]:
    conda_python = getattr(conda, "python", None)
    for version, source in ((venv_python, venv_source), (conda_python, "conda.yaml"), (mlmodel.python_version, "MLmodel")):
        if version:
            return _checked_python(version, source), source
    return None, "none"


def _checked_python(version: str, source: str) -> str:
    from envforge.interpreters import parse_version

    if parse_version(version) is None:
        raise ModelDirError(f"{source} names the Python version {version!r}, which is not a Python version (X.Y or X.Y.Z).",
                            f"Fix the version in {source} (e.g. `3.11.7`) or re-log the model.")
    return version


def _existing(model_dir: Path, declared: str | None, default: str) -> Path | None:
    name = declared or default
    path = inside(model_dir, name, f"the environment file {name!r}")
    if path.is_file():
        return path
    if declared and declared != default:
        fallback = model_dir / default
        return fallback if fallback.is_file() else None
    return None
