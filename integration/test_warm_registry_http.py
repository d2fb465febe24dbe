"""A warm verify of a cached registered version from an http tracking server imports no MLflow in envforge's own
process: the download cache's identity check asks the server with one REST call (envforge/modeldir/rest_registry.py).
Counted, not timed: `python -X importtime` lists every module the host imports; the cold verify of the same version
(a download through MLflow) is the control that the count sees MLflow when it is there.

A real `mlflow server`; nothing mocked. The REST answer is the one MLflow's client gives (the download cache's record
of a version, built from either), and a store that reuses a version number for another model is still caught."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.support.cli import envforge
from tests.support.models import SCALE, save_code_model
from tests.support.register import register_dir

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, Path, Path]:
    """models:/NAME/1 (x*3) with alias @champion on the session's server; the URL, NAME, a home, a scratch dir."""
    from mlflow.tracking import MlflowClient

    root = tmp_path_factory.mktemp("warm-http")
    name = f"warm-http-{uuid.uuid4().hex[:8]}"  # the session's server is shared: a name of this module's own
    register_dir(mlflow_server, name, save_code_model(root / "three", SCALE.format(factor=3)))
    MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server).set_registered_model_alias(name, "champion", "1")
    return mlflow_server, name, root / "home", root


def _mlflow_imports(stderr: str) -> list[str]:
    names = [line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:") and line.count("|") == 2]
    return [n for n in names if n == "mlflow" or n.startswith("mlflow.")]


def _detail(result: dict, step: str) -> str:
    return next(s["detail"] for s in result["steps"] if s["name"] == step)


def _verify(uri: str, url: str, home: Path, report: Path) -> tuple[dict, list[str]]:
    env = {**os.environ, "ENVFORGE_HOME": str(home), "COLUMNS": "200"}
    env.pop("PYTHONPROFILEIMPORTTIME", None)  # the host's imports only
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "envforge", "verify", uri, "--tracking-uri", url,
                           "--json", str(report)], capture_output=True, text=True, env=env, timeout=900)
    assert report.is_file(), done.stdout + done.stderr[-3000:]
    return json.loads(report.read_text())["results"][0], _mlflow_imports(done.stderr)


def test_a_warm_verify_against_an_http_server_imports_no_mlflow(served: tuple[str, str, Path, Path], tmp_path: Path) -> None:
    url, name, home, _ = served
    cold, cold_imports = _verify(f"models:/{name}/1", url, home, tmp_path / "cold.json")
    assert cold["status"] in ("passed", "unverified"), cold
    assert _detail(cold, "resolve") == "downloaded", cold["steps"]
    assert "mlflow" in cold_imports, "the control: a download goes through MLflow, and the count must see it"

    for uri in (f"models:/{name}/1", f"models:/{name}@champion"):
        warm, warm_imports = _verify(uri, url, home, tmp_path / "warm.json")
        assert warm["status"] == cold["status"], warm
        assert _detail(warm, "resolve") == "cached" and warm["env"]["reused"], (uri, warm["steps"])
        assert _detail(warm, "predict") == "1 of 1 example(s)", warm  # the runner ran
        assert warm_imports == [], f"{uri}: the host imported {len(warm_imports)} mlflow module(s): {warm_imports[:10]}"


def _meta(url: str, name: str, version: str, *, fast: bool) -> dict:
    from envforge.modeldir import resolve

    saved = resolve.model_version
    if not fast:
        resolve.model_version = lambda *args: None  # type: ignore[assignment]  # what every other store gets: MLflow's client
    try:
        return resolve._version_meta(f"models:/{name}/{version}", url, name, version)
    finally:
        resolve.model_version = saved  # type: ignore[assignment]


def test_the_rest_reader_answers_what_mlflow_answers(served: tuple[str, str, Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from envforge.errors import ResolveError
    from envforge.modeldir.rest_registry import alias_version, model_version

    url, name, _, _ = served
    row = model_version(url, name, "1")
    assert row is not None and row.run_id and row.source
    assert _meta(url, name, "1", fast=True) == _meta(url, name, "1", fast=False)
    assert model_version(url + "/", name, "1") == row  # MLflow strips the trailing slash too
    assert alias_version(url, name, "champion") == "1"

    # What the reader cannot answer for certain is left to MLflow, which says what is wrong.
    assert model_version(url, name, "9") is None and alias_version(url, name, "nobody") is None
    with pytest.raises(ResolveError, match="does not exist"):
        _meta(url, name, "9", fast=True)
    assert alias_version(url, name, "latest") is None  # MLflow's own rule
    monkeypatch.setenv("MLFLOW_TRACKING_AUTH", "some-plugin")  # auth this client does not repeat: MLflow's client
    assert model_version(url, name, "1") is None and alias_version(url, name, "champion") is None


def _inspect(uri: str, url: str, home: Path) -> Path:
    run = envforge("inspect", uri, "--tracking-uri", url, "--json", home=home)
    assert run.returncode == 0, run.output
    return Path(json.loads(run.stdout)["model_dir"])


def test_a_version_number_reused_for_another_model_is_downloaded_again(served: tuple[str, str, Path, Path]) -> None:
    """The server's registered model is deleted and created again (a recreated store): models:/NAME/1 is another run."""
    from mlflow.tracking import MlflowClient

    url, _, _, root = served
    name, home = f"reused-{uuid.uuid4().hex[:8]}", root / "home-reused"
    register_dir(url, name, save_code_model(root / "four", SCALE.format(factor=4)))
    assert "* 4" in "".join(p.read_text() for p in _inspect(f"models:/{name}/1", url, home).rglob("*.py"))

    MlflowClient(tracking_uri=url, registry_uri=url).delete_registered_model(name)
    assert register_dir(url, name, save_code_model(root / "five", SCALE.format(factor=5))) == f"models:/{name}/1"
    again = "".join(p.read_text() for p in _inspect(f"models:/{name}/1", url, home).rglob("*.py"))
    assert "* 5" in again and "* 4" not in again, "the cache served the deleted version's model"
