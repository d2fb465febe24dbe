"""Filling the gaps real model directories have, each with a note in the report, never silently.

Models logged by real users are often missing a file MLflow wrote: a python_env.yaml naming a
requirements.txt that was never saved (while conda.yaml's pip section lists the same packages),
a conda.yaml that is gone or unreadable beside a good python_env.yaml, or no env file at all.
MLflow itself gives up on those. envforge builds from what the model still says, in this order:

- python_env.yaml names a missing requirements file: conda.yaml's pip section (MLflow writes the
  same list to both), else the requirements MLmodel records (inferred.py);
- conda.yaml unreadable: set aside when python_env.yaml or requirements.txt can stand in (it stays
  an error when it is the model's only env file: guessing would ignore what the model says);
- the backend's preferred file missing (python_env.yaml; conda.yaml for the conda backend): the next one;
- no env file at all: the requirements MLmodel records (mlflow_version, the flavor's library version,
  python_function.python_version), with MLflow's usual build dependencies.

A broken python_env.yaml is not filled: it is the file MLflow itself builds from, so verify stops
(exit 2) and `inspect` says why. Each gap filled is returned as a sentence (EnvSpec.gaps, also in
EnvSpec.notes, so every report's warnings carry it).
"""

from __future__ import annotations

import re
from pathlib import Path

from envforge.errors import ModelDirError
from envforge.redact import redact
from envforge.spec.conda_env import CondaEnv, read_conda_env
from envforge.spec.inferred import BUILD_DEPENDENCIES, infer_requirements, mlflow_date_note
from envforge.spec.mlmodel import MLmodel
from envforge.spec.paths import inside
from envforge.spec.python_env import PythonEnv
from envforge.spec.requirements import Parsed, parse_file, parse_lines

_INCLUDES = ("-r", "--requirement")
_CONDA_MLFLOW_PIN = re.compile(r"^(?:[^:\s]+::)?mlflow(?:-skinny)?\s*==?\s*[0-9]")


def read_conda(conda_file: Path | None, stand_in: str | None, gaps: list[str], prefer_conda: bool) -> CondaEnv | None:
    """conda.yaml, or None (with a gap) when it cannot be read and `stand_in` can take its place."""
    if conda_file is None:
        return None
    try:
        return read_conda_env(conda_file)
    except ModelDirError as exc:
        if not stand_in:
            raise
        if prefer_conda:
            effect = f"the conda backend builds from {stand_in} instead (Python from conda, the requirements with pip)"
        elif stand_in == "requirements.txt":
            effect = "envforge builds from requirements.txt instead, with the Python version MLmodel records"
        else:
            effect = f"envforge builds from {stand_in}, which does not need it (MLflow's conda env manager would fail on it)"
        gaps.append(f"{exc.message.rstrip('.')}: {effect}")
        return None


def python_env_requirements(env: PythonEnv, venv_file: Path, model_dir: Path, conda: CondaEnv | None,
                            conda_file: Path | None, gaps: list[str]) -> Parsed:
    """python_env.yaml's dependencies; a `-r FILE` whose FILE is missing is replaced (and said so)."""
    deps = list(env.dependencies)
    missing = [(line, name) for line in deps if (name := _missing_include(line, model_dir))]
    if deps and not missing:
        return parse_lines(deps, model_dir, venv_file.name)
    if not deps and (model_dir / "requirements.txt").is_file():
        return parse_file("requirements.txt", model_dir)
    dropped = {line for line, _ in missing}
    parsed = parse_lines([d for d in deps if d not in dropped], model_dir, venv_file.name)
    what = (f"{venv_file.name} names {', '.join(name for _, name in missing)}, which is not in the model directory" if missing
            else f"{venv_file.name} lists no dependencies and there is no requirements.txt")
    if conda is not None and conda_file is not None and conda.pip and not any(_missing_include(p, model_dir) for p in conda.pip):
        parse_lines(list(conda.pip), model_dir, conda_file.name, parsed)
        listed = ", ".join(redact(p) for p in conda.pip)  # an index URL there may carry a token
        gaps.append(f"{what}: envforge installs {conda_file.name}'s pip section instead ({listed}), "
                    "the list MLflow writes to both files")
        return parsed
    inferred = infer_requirements(model_dir)
    parse_lines(inferred.requirements, model_dir, "MLmodel", parsed)
    gaps.append(f"{what}, and no conda.yaml pip section can take its place: envforge infers the requirements from MLmodel: "
                f"{', '.join(inferred.sources)}; what those need resolves unpinned, anything else the model imports is unknown")
    gaps.extend(inferred.notes)
    return parsed


def no_env_files(model_dir: Path, mlmodel: MLmodel, gaps: list[str]) -> tuple[Parsed, list[str]]:
    """The model directory has no python_env.yaml, conda.yaml or requirements.txt: read MLmodel.
    Returns the requirements and the build dependencies (MLflow's usual pip, setuptools, wheel, unpinned)."""
    inferred = infer_requirements(model_dir)
    python = (f"Python {mlmodel.python_version} (python_function.python_version)" if mlmodel.python_version
              else "no Python version (MLmodel records none: the default interpreter is used)")
    gaps.append("the model directory has no python_env.yaml, conda.yaml or requirements.txt: envforge infers the "
                f"requirements from MLmodel: {', '.join(inferred.sources)}, {python}, and the build dependencies MLflow "
                f"writes to python_env.yaml ({', '.join(BUILD_DEPENDENCIES)}, unpinned: MLmodel does not record their "
                "versions); what those need resolves unpinned, anything else the model imports is unknown")
    gaps.extend(inferred.notes)
    return parse_lines(inferred.requirements, model_dir, "MLmodel"), list(BUILD_DEPENDENCIES)


def missing_declared(mlmodel: MLmodel, venv_file: Path | None, conda_file: Path | None, used: str,
                     prefer_conda: bool) -> list[str]:
    """An env file MLmodel names that is missing, when the backend would have built from it rather than `used`."""
    order = ["conda", "virtualenv"] if prefer_conda else ["virtualenv", "conda"]
    declared = {"virtualenv": (mlmodel.virtualenv_file, venv_file), "conda": (mlmodel.conda_file, conda_file)}
    notes = []
    for kind in order:
        name, found = declared[kind]
        if found is not None or used == (name or ""):
            break
        if name:
            how = " (Python from conda, the requirements with pip)" if prefer_conda and kind == "conda" else ""
            notes.append(f"MLmodel names {name}, which is not in the model directory: envforge builds from {used} instead{how}")
    return notes


def mlflow_date_gap(model_dir: Path, mlmodel: MLmodel, requirements: list[str]) -> list[str]:
    """No mlflow_version and no requirement pins mlflow: say which date an as-of resolution uses."""
    if mlmodel.mlflow_version is not None or any(_pins_mlflow(r) for r in requirements):
        return []
    return [mlflow_date_note(model_dir)]


def _pins_mlflow(line: str) -> bool:
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        req = Requirement(line)
    except InvalidRequirement:  # a conda spec (the conda backend): `mlflow=1.20.2`, `conda-forge::mlflow==1.20.2`
        return bool(_CONDA_MLFLOW_PIN.match(line.strip()))
    return req.name.lower().replace("_", "-") in ("mlflow", "mlflow-skinny") and any(s.operator in ("==", "===") for s in req.specifier)


def _missing_include(line: str, model_dir: Path) -> str | None:
    """The file named by a `-r FILE` line when it is not in the model directory (paths outside are refused)."""
    text = line.strip()
    for option in _INCLUDES:
        if text.startswith(option + "=") or text.startswith(option + " ") or (option == "-r" and text.startswith("-r") and len(text) > 2):
            name = text[len(option):].lstrip(" =").strip()
            if name and not inside(model_dir, name, f"the requirements file {name!r}").is_file():
                return name
    return None
