"""Training environments of *other* Pythons than envforge's own: real interpreters, real MLflow.

The interpreters are whatever this machine has for each minor version, found the way envforge itself finds
them (pyenv's, uv-managed, on PATH): no patch version is assumed. A logger venv (that CPython X.Y.Z + pinned
mlflow and scikit-learn) takes a minute to build
the first time, so it is cached across test runs under ~/.cache/envforge-tests/loggers/ (or
$ENVFORGE_TEST_CACHE/loggers/), named by the Python version and a hash of everything that goes
into it, built with uv from uv's package cache, and trusted only once its `.ready` marker (written
last) exists and its Python still runs. A half-built venv is wiped and rebuilt. The model is
logged into the same directory before the marker, by a script run with the venv's own python
(nothing is loaded in the test process); tests copy it and record/verify the copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from envforge.interpreters import Interpreter

# Python minor version -> what a user of that time would have trained with. MLflow 3.x needs
# Python >= 3.10, so 3.9 gets the last MLflow 2.x; each pin supports its Python.
PINS: dict[str, tuple[str, ...]] = {
    "3.9": ("mlflow==2.22.5", "scikit-learn==1.6.1"),
    "3.10": ("mlflow==3.3.2", "scikit-learn==1.7.2"),
    "3.12": ("mlflow==3.17.2", "scikit-learn==1.9.1"),
}
LAYOUT = 1  # bump when how the venv is made changes (pins and LOG_SCRIPT are hashed already)
READY = ".ready"

LOG_SCRIPT = textwrap.dedent("""
    import sys
    import mlflow.sklearn
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, target = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=500).fit(features, target)
    mlflow.sklearn.save_model(model, sys.argv[1], input_example=features.head(5))
""")


@dataclass(frozen=True)
class Logger:
    version: str   # the interpreter's X.Y.Z
    python: str    # the logger venv's python
    model: Path    # an iris model saved by that python's MLflow (read-only: copy it)
    interpreter: Interpreter  # the machine's interpreter the venv was made from


def cache_root() -> Path:
    base = os.environ.get("ENVFORGE_TEST_CACHE") or os.path.expanduser("~/.cache/envforge-tests")
    return Path(base) / "loggers"


def machine_python(minor: str) -> Interpreter | None:
    """The newest CPython `minor`.x this machine has, found as envforge finds interpreters."""
    from envforge.interpreters import discover

    return next((i for i in discover() if i.version.startswith(f"{minor}.")), None)


def missing(minor: str, *, uv_builds_it: bool = True) -> str:
    """What a skip says when the machine has no CPython `minor` (uv has no managed builds before 3.7)."""
    provides = f"`uv python install {minor}` or `pyenv install {minor}`" if uv_builds_it else f"`pyenv install {minor}`"
    return f"no CPython {minor} on this machine (pyenv's, uv-managed or on PATH): {provides} provides one"


def _uv() -> str:
    import uv

    return str(uv.find_uv_bin())


def _run(argv: list[str], *, timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return done


def logger(minor: str) -> Logger:
    """The cached logger venv for this machine's CPython `minor` (built once per machine, interpreter and pin set)."""
    import pytest
    from filelock import FileLock

    found = machine_python(minor)
    if found is None:
        pytest.skip(missing(minor))
    version, interpreter = found.version, found.path
    recipe = json.dumps({"layout": LAYOUT, "python": version, "pins": PINS[minor], "script": LOG_SCRIPT}, sort_keys=True)
    root = cache_root() / f"{version}-{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"
    python = root / "bin" / "python"
    root.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root) + ".lock", timeout=1800):
        if (root / READY).is_file() and subprocess.run([str(python), "-c", "import mlflow, sklearn"],
                                                       capture_output=True, timeout=120).returncode == 0:
            return Logger(version, str(python), root / "model", found)
        shutil.rmtree(root, ignore_errors=True)
        env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
        # --seed: pip/setuptools/wheel in the venv, as in a user's own, so MLflow pins them as build_dependencies.
        _run([_uv(), "venv", "--quiet", "--seed", "--python", str(interpreter), str(root)], timeout=300, env=env)
        _run([_uv(), "pip", "install", "--quiet", "--python", str(python), *PINS[minor]], timeout=1500, env=env)
        _log_model(str(python), root / "model")
        (root / READY).write_text(recipe)
    return Logger(version, str(python), root / "model", found)


def _log_model(python: str, dest: Path) -> None:
    """Train and save an iris model with that Python and its MLflow, in a subprocess."""
    script = dest.parent / "log_model.py"
    script.write_text(LOG_SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "MLFLOW_"))}
    _run([python, str(script), str(dest)], timeout=600, env=env)
