"""Every model URI form against a real `mlflow server` over HTTP (SQLite store, proxied artifacts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import envforge, report

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def registered(mlflow_server: str) -> dict[str, str]:
    """An iris model logged through the server, registered as 'iris' v1 with alias 'champion'."""
    import mlflow
    from mlflow.tracking import MlflowClient
    from sklearn.linear_model import LogisticRegression

    from envforge.modeldir.resolve import tracking_scope
    from tests.support.models import iris_frame

    features, target = iris_frame()
    with tracking_scope(mlflow_server):
        mlflow.set_experiment("envforge-remote")
        with mlflow.start_run() as run:
            info = mlflow.sklearn.log_model(LogisticRegression(max_iter=300).fit(features, target), name="model",
                                            input_example=features.head(5), registered_model_name="iris")
    MlflowClient(mlflow_server, mlflow_server).set_registered_model_alias("iris", "champion", info.registered_model_version)
    return {"run_id": run.info.run_id, "model_id": info.model_id, "version": str(info.registered_model_version)}


def test_record_remote_then_verify_every_uri_form(mlflow_server: str, registered: dict[str, str], tmp_path: Path) -> None:
    recorder_home, verifier_home = tmp_path / "recorder", tmp_path / "verifier"
    version = registered["version"]
    recorded = envforge("record", f"models:/iris/{version}", "--tracking-uri", mlflow_server, home=recorder_home)
    assert recorded.returncode == 0, recorded.output
    assert "envforge-expectations.json" in recorded.stdout

    uris = [f"models:/iris/{version}", "models:/iris@champion", f"runs:/{registered['run_id']}/model",
            f"models:/{registered['model_id']}"]
    # The alias names the version just downloaded: only the alias lookup goes to the server.
    expected_resolve = ["downloaded", "cached", "downloaded", "downloaded"]
    for i, uri in enumerate(uris):
        # A different ENVFORGE_HOME: the expectations must come from the server, not a local copy.
        run = envforge("verify", uri, "--tracking-uri", mlflow_server, "--json", str(tmp_path / f"{i}.json"), home=verifier_home)
        assert run.returncode == 0, f"{uri}: {run.output}"
        result = report(tmp_path / f"{i}.json")
        assert result["status"] == "passed", (uri, result)
        assert result["steps"][0]["detail"] == expected_resolve[i], uri


def test_download_is_cached_and_tracking_uri_can_come_from_the_environment(
        mlflow_server: str, registered: dict[str, str], tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"MLFLOW_TRACKING_URI": mlflow_server}
    uri = f"models:/iris/{registered['version']}"
    first = envforge("verify", uri, "--json", str(tmp_path / "1.json"), home=home, env=env)
    second = envforge("verify", uri, "--json", str(tmp_path / "2.json"), home=home, env=env)
    assert first.returncode == 0 and second.returncode == 0, first.output + second.output
    assert report(tmp_path / "1.json")["steps"][0]["detail"] == "downloaded"
    assert report(tmp_path / "2.json")["steps"][0]["detail"] == "cached"
    assert report(tmp_path / "2.json")["env"]["reused"] is True


def test_unknown_registered_model_is_a_clear_usage_error(mlflow_server: str, tmp_path: Path) -> None:
    run = envforge("verify", "models:/no-such-model/3", "--tracking-uri", mlflow_server,
                   "--json", str(tmp_path / "r.json"), home=tmp_path / "home")
    assert run.returncode == 2, run.output
    assert "no-such-model" in run.stdout + run.stderr
    assert "Traceback" not in run.output
    assert json.loads((tmp_path / "r.json").read_text())["results"][0]["status"] == "error"
