"""A warm verify of a cached registered version from a SQLite store does not import MLflow in envforge's own process:
the download cache's identity check reads the registry's row with sqlite3 (envforge/modeldir/sqlite_registry.py).
Counted, not timed: `python -X importtime` lists every module the host imports, and the cold verify of the same
version (which downloads through MLflow) is the control that the count sees MLflow when it is there.

And the reader answers exactly what MLflow's client answers (the download cache's record of a version, built from
either), or None so that MLflow is asked: a real MLflow registry in a real SQLite file, nothing mocked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.models import SCALE, save_code_model
from tests.support.register import register_dir

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A SQLite registry with models:/warm/1 and /2 (run sources), /3 deleted; the tracking URI and a home."""
    from mlflow.tracking import MlflowClient

    root = tmp_path_factory.mktemp("warm-store")
    tracking = f"sqlite:///{root / 'mlflow.db'}"
    model = save_code_model(root / "model", SCALE.format(factor=3))
    for _ in range(3):
        register_dir(tracking, "warm", model, artifacts=root / "artifacts")
    client = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
    client.set_registered_model_alias("warm", "champion", "2")
    client.set_registered_model_alias("warm", "gone", "3")
    client.delete_model_version("warm", "3")
    return tracking, root / "home"


def _mlflow_imports(stderr: str) -> list[str]:
    """The modules of the mlflow package `-X importtime` says the process imported."""
    names = [line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:") and line.count("|") == 2]
    return [n for n in names if n == "mlflow" or n.startswith("mlflow.")]


def _detail(result: dict, step: str) -> str:
    return next(s["detail"] for s in result["steps"] if s["name"] == step)


def _verify_counting_imports(tracking: str, home: Path, report: Path) -> tuple[dict, list[str]]:
    env = {**os.environ, "ENVFORGE_HOME": str(home), "COLUMNS": "200"}
    env.pop("PYTHONPROFILEIMPORTTIME", None)  # only the host's imports: the runner's are its own process's
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "envforge", "verify", "models:/warm/1",
                           "--tracking-uri", tracking, "--json", str(report)],
                          capture_output=True, text=True, env=env, timeout=900)
    assert report.is_file(), done.stdout + done.stderr[-3000:]
    return json.loads(report.read_text())["results"][0], _mlflow_imports(done.stderr)


def test_a_warm_verify_of_a_cached_registered_version_imports_no_mlflow(store: tuple[str, Path], tmp_path: Path) -> None:
    tracking, home = store
    cold, cold_imports = _verify_counting_imports(tracking, home, tmp_path / "cold.json")
    assert cold["status"] in ("passed", "unverified"), cold
    assert _detail(cold, "resolve") == "downloaded", cold["steps"]
    assert "mlflow" in cold_imports, "the control: a download goes through MLflow, and the count must see it"

    warm, warm_imports = _verify_counting_imports(tracking, home, tmp_path / "warm.json")
    assert warm["status"] == cold["status"], warm
    assert _detail(warm, "resolve") == "cached" and warm["env"]["reused"], warm["steps"]
    assert len(warm["examples"]) == 1 and _detail(warm, "predict") == "1 of 1 example(s)", warm  # the runner ran
    assert warm_imports == [], f"a warm verify imported {len(warm_imports)} mlflow module(s) in the host: {warm_imports[:10]}"


def _meta(tracking: str, version: str, *, fast: bool) -> dict:
    from envforge.modeldir import resolve

    saved = resolve.model_version
    if not fast:
        resolve.model_version = lambda *args: None  # type: ignore[assignment]  # the path every other store takes
    try:
        return resolve._version_meta(f"models:/warm/{version}", tracking, "warm", version)
    finally:
        resolve.model_version = saved  # type: ignore[assignment]


def test_the_sqlite_reader_answers_what_mlflow_answers(store: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from envforge.errors import ResolveError
    from envforge.modeldir.sqlite_registry import model_version

    tracking, _ = store
    for version in ("1", "2"):
        row = model_version(tracking, "warm", version)
        assert row is not None and row.run_id and row.source
        assert _meta(tracking, version, fast=True) == _meta(tracking, version, fast=False)
    assert _meta(tracking, "1", fast=True)["run_id"] != _meta(tracking, "2", fast=True)["run_id"]

    # What the reader cannot answer for certain is left to MLflow, which says what is wrong.
    assert model_version(tracking, "warm", "3") is None  # deleted: MLflow's get_model_version does not find it
    with pytest.raises(ResolveError, match="does not exist"):
        _meta(tracking, "3", fast=True)
    assert model_version(tracking, "warm", "9") is None
    assert model_version(tracking, "Warm", "1") is None  # names are exact, as in MLflow's query
    assert model_version(tracking.replace("mlflow.db", "other.db"), "warm", "1") is None  # never creates a store
    assert not Path(tracking.split(":///", 1)[1].replace("mlflow.db", "other.db")).exists()
    from envforge.modeldir.sqlite_registry import alias_version

    assert alias_version(tracking, "warm", "champion") == "2"
    assert alias_version(tracking, "warm", "gone") is None  # its version deleted (MLflow drops the alias too)
    assert alias_version(tracking, "warm", "latest") is None  # MLflow's own rule
    assert alias_version(tracking, "warm", "nobody") is None
    monkeypatch.setenv("MLFLOW_WORKSPACE", "team-a")
    assert model_version(tracking, "warm", "1") is None  # workspaces: MLflow's rules, MLflow's answer
    assert alias_version(tracking, "warm", "champion") is None
