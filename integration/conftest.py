"""Real parts for integration tests: an `mlflow server` process, real models, real uv builds."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.models import save_sklearn_model  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_MLFLOW_AT_START = {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")}


@pytest.fixture(autouse=True)
def _no_leaked_mlflow_settings() -> object:
    """mlflow.set_experiment() exports MLFLOW_EXPERIMENT_ID into os.environ (also from module-scoped
    fixtures), where every later subprocess, a model logger against another store, would inherit it:
    after each test, put MLFLOW_* back as it was when the session started."""
    yield
    for key in [k for k in os.environ if k.startswith("MLFLOW_") and k not in _MLFLOW_AT_START]:
        del os.environ[key]
    os.environ.update(_MLFLOW_AT_START)


_SESSION_DIRS: set[Path] = set()  # what session fixtures made: later modules still use it


def _session_dir(factory: pytest.TempPathFactory, name: str) -> Path:
    path = factory.mktemp(name)
    _SESSION_DIRS.add(path)
    return path


@pytest.fixture(scope="session")
def _bytecode_store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.getbasetemp()
    store = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "bytecode-store"  # both workers'
    store.mkdir(exist_ok=True)
    _SESSION_DIRS.add(store)
    return store


@pytest.fixture(scope="module", autouse=True)
def _shared_bytecode_store(_bytecode_store_path: Path) -> Iterator[None]:
    """One bytecode store (ENVFORGE_BYTECODE_DIR, store/bytecode.py) for the whole run, both xdist workers: every test
    has an empty ENVFORGE_HOME, and without this each new env's first run compiled mlflow, pandas and scikit-learn
    again (about 10 s of CPU per test), as on a machine whose CI cache kept uv's cache and lost envforge's.
    Set per module (the unit tests in tests/ never see it); a module testing the store itself keeps one in its own
    home (tests/support/bytecode_store.py)."""
    os.environ["ENVFORGE_BYTECODE_DIR"] = str(_bytecode_store_path)
    yield
    os.environ.pop("ENVFORGE_BYTECODE_DIR", None)


@pytest.fixture(scope="module", autouse=True)
def _module_scratch_removed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A module's own directories (module-scoped homes with built envs, corpus copies: up to 7 GB each) are removed
    when the module ends with no failure, as pytest removes a passed test's tmp_path (pyproject's retention policy):
    a full run kept every one until the end and filled a CI disk. A failed module's stay for reading."""
    base = tmp_path_factory.getbasetemp()
    before = set(base.iterdir())
    failed = request.session.testsfailed
    yield
    if request.session.testsfailed != failed:
        return
    for path in set(base.iterdir()) - before - _SESSION_DIRS:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def _mlflow_server(root: Path) -> Iterator[str]:
    """`mlflow server` on 127.0.0.1 with a SQLite store and proxied artifacts under `root`."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (root / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
         "--artifacts-destination", str(root / "artifacts"), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, cwd=root, start_new_session=True,
        # No job runner: its ~8 huey consumers each import mlflow, then poll for the server's lifetime; no test uses jobs.
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
    )
    deadline = time.monotonic() + 300  # an mlflow server on a loaded 2-core machine took over 120 s to start
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):  # its workers too (uvicorn, the job consumers), not only the launcher
                os.killpg(proc.pid, 9)
            raise RuntimeError("mlflow server did not start:\n" + (root / "server.log").read_text()[-3000:])
        time.sleep(0.5)
    try:
        yield url
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One server for the session: tests that select models must filter by name (other files register theirs)."""
    with _mlflow_server(_session_dir(tmp_path_factory, "mlflow-server")) as url:
        yield url


@pytest.fixture(scope="module")
def own_mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server of the module's own, holding only what that module logs."""
    with _mlflow_server(tmp_path_factory.mktemp("own-mlflow-server")) as url:
        yield url


@pytest.fixture(scope="session")
def sklearn_model_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_sklearn_model(_session_dir(tmp_path_factory, "sk") / "model")


@pytest.fixture(scope="session")
def sklearn_truth(sklearn_model_template: Path):
    """What the iris model predicted on its input example in the test's process, at training time."""
    import numpy as np

    from tests.support.models import truth_path

    return np.load(truth_path(sklearn_model_template))


@pytest.fixture
def sklearn_model(tmp_path: Path, sklearn_model_template: Path) -> Path:
    """A fresh copy of the iris model directory, for a test to record into or edit."""
    target = tmp_path / "iris"
    shutil.copytree(sklearn_model_template, target)
    return target


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty ENVFORGE_HOME (env and download caches); uv's package cache stays shared."""
    path = tmp_path / "envforge-home"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def conda_channel() -> str:
    """file:// URL of a real local conda channel (python: a CPython this machine has, repackaged; pip; ef-hello),
    built with rattler-build once per machine and cached under ~/.cache/envforge-tests (tests/support/conda_channel.py)."""
    from tests.support.conda_channel import ensure_channel

    return ensure_channel().as_uri()


@pytest.fixture(scope="session")
def conda_packaged(conda_channel: str) -> dict:
    """What that channel packaged: {"python": "X.Y.Z", "python_minor": "X.Y", "pip": "...", "source": prefix}."""
    from tests.support.conda_channel import packaged

    return packaged(conda_channel)
