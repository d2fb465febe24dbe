"""verify-registry --log-to EXPERIMENT against a real `mlflow server` (and, for the keys of several resolutions, a real
SQLite store): each nightly run is an MLflow run whose
params, metrics and artifacts say, per version, what passed, in which env and how long it took; read back
with MLflow's own client. The module's own server: it counts the experiment's runs."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from envforge.registry import mlflow_log, trend
from envforge.registry.run import RegistryRun
from envforge.registry.select import Target
from envforge.result import FAILED, PASSED, VerifyResult
from tests.support.cli import envforge
from tests.support.models import wrong_expectations
from tests.support.register import register_dir

pytestmark = pytest.mark.slow

EXPERIMENT = "envforge-nightly"


def test_each_nightly_run_is_an_mlflow_run_with_params_metrics_and_reports(own_mlflow_server: str, sklearn_model: Path,
                                                                          home: Path, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    assert envforge("record", str(sklearn_model), home=home).returncode == 0
    wrong = tmp_path / "wrong"
    wrong_expectations(sklearn_model, wrong, row=0)
    assert register_dir(own_mlflow_server, "nightly-iris", sklearn_model) == "models:/nightly-iris/1"
    assert register_dir(own_mlflow_server, "nightly-iris", wrong) == "models:/nightly-iris/2"

    args = ("verify-registry", "--tracking-uri", own_mlflow_server, "--models", "nightly-iris", "--log-to", EXPERIMENT)
    run = envforge(*args, "--junit", str(tmp_path / "nightly.xml"), home=home)
    assert run.returncode == 1, run.output  # version 2 fails
    assert f"logged to MLflow: experiment {EXPERIMENT}, run " in run.stdout

    client = MlflowClient(tracking_uri=own_mlflow_server)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment is not None
    (logged,) = client.search_runs([experiment.experiment_id])
    assert logged.info.run_id in run.stdout and logged.info.status == "FINISHED"
    params, metrics, tags = logged.data.params, logged.data.metrics, logged.data.tags
    assert params["nightly-iris/1.status"] == "passed" and params["nightly-iris/2.status"] == "failed"
    assert params["nightly-iris/1.env_key"] and params["nightly-iris/1.env_key"] == params["nightly-iris/2.env_key"]  # one env
    assert metrics["nightly-iris/1.passed"] == 1.0 and metrics["nightly-iris/2.passed"] == 0.0
    assert metrics["nightly-iris/1.seconds"] > 0
    assert (metrics["passed"], metrics["failed"], metrics["versions"]) == (1.0, 1.0, 2.0)
    assert tags["envforge.kind"] == "verify-registry" and tags["envforge.exit_code"] == "1"
    assert "differ" in tags["nightly-iris/2.reason"]

    artifacts = {f.path for f in client.list_artifacts(logged.info.run_id, "reports")}
    assert artifacts == {"reports/nightly.xml", "reports/envforge-report.json", "reports/envforge-report.html"}
    downloaded = Path(client.download_artifacts(logged.info.run_id, "reports/envforge-report.json", str(tmp_path)))
    report = json.loads(downloaded.read_text())
    assert sorted(r["status"] for r in report["results"]) == ["failed", "passed"]
    assert (tmp_path / "nightly.xml").is_file()  # the report asked for is still where it was asked for

    (tmp_path / "first").mkdir()
    first_page = client.download_artifacts(logged.info.run_id, "reports/envforge-report.html", str(tmp_path / "first"))
    assert _nights(Path(first_page).read_text(), "nightly-iris/1") == ["passed"]  # no earlier night yet: tonight only

    again = envforge(*args, home=home)
    assert again.returncode == 1, again.output
    latest, earlier = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"])
    assert earlier.info.run_id == logged.info.run_id  # one run a night: the history is in MLflow
    (tmp_path / "second").mkdir()
    page = Path(client.download_artifacts(latest.info.run_id, "reports/envforge-report.html", str(tmp_path / "second"))).read_text()
    assert "earlier nights from the MLflow experiment envforge-nightly" in page
    assert _nights(page, "nightly-iris/1") == ["passed", "passed"] and _nights(page, "nightly-iris/2") == ["failed", "failed"]


def _nights(page: str, version: str) -> list[str]:
    """The statuses of the trend row of `version` in the HTML report, oldest first."""
    import re

    row = re.search(rf"<tr data-version='{re.escape(version)}'>(.*?)</tr>", page, re.S)
    assert row is not None, page
    return re.findall(r"class='night' data-status='([a-z]+)'", row.group(1))


@pytest.fixture
def refusing_server() -> Iterator[str]:
    """An HTTP server that accepts connections and answers every MLflow call 403 PERMISSION_DENIED (as a tracking
    server behind an auth proxy does for a token that may read but not write): it cannot exist as a real
    MLflow server here, so a few lines of http.server stand in for it."""
    class Refuse(http.server.BaseHTTPRequestHandler):
        def _refuse(self) -> None:
            body = json.dumps({"error_code": "PERMISSION_DENIED", "message": "this token may not create runs"}).encode()
            self.send_response(403)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = do_DELETE = _refuse

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_tracking_server_that_refuses_the_run_is_an_error_after_the_verdicts(refusing_server: str, home: Path,
                                                                               tmp_path: Path) -> None:
    uris = tmp_path / "uris.txt"
    uris.write_text(str(tmp_path / "missing-model") + "\n")
    run = envforge("verify-registry", "--uris-file", str(uris), "--tracking-uri", refusing_server,
                   "--log-to", EXPERIMENT, "--json", str(tmp_path / "r.json"), home=home,
                   env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"})
    assert run.returncode != 0, run.output
    assert f"--log-to {EXPERIMENT}: could not log the run to {refusing_server}" in run.stderr, run.output
    assert "The reports were written" in run.stderr and (tmp_path / "r.json").is_file()
    assert run.stderr.index("ERROR") < run.stderr.index("could not log the run")  # after the verdicts
    assert "Traceback" not in run.output


def test_a_tracking_server_that_is_not_there_is_refused_before_any_work(home: Path, tmp_path: Path) -> None:
    uris = tmp_path / "uris.txt"
    uris.write_text(str(tmp_path / "missing-model") + "\n")
    run = envforge("verify-registry", "--uris-file", str(uris), "--tracking-uri", "http://127.0.0.1:9/",
                   "--log-to", EXPERIMENT, "--json", str(tmp_path / "r.json"), home=home)
    assert run.returncode == 2, run.output
    assert "cannot connect to 127.0.0.1:9: connection refused" in run.stderr and "fix:" in run.stderr, run.output
    assert "Traceback" not in run.output
    # Issue 31: every command writes its report whatever fails; nothing was verified, so no model is in it.
    [result] = json.loads((tmp_path / "r.json").read_text())["results"]
    assert result["status"] == "error" and result["exit_code"] == 2 and result["model"] is None


def one_run(status: str, env_key: str) -> RegistryRun:
    run = RegistryRun()
    run.results = [(Target("models:/fraud/3", "fraud", "3", ("champion",)),
                    VerifyResult(uri="models:/fraud/3", backend="uv", env_key=env_key).finish(status, f"it {status}"))]
    return run


def test_two_resolutions_and_a_verdict_become_params_that_the_trend_reads_back(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    logged, latest = one_run(PASSED, "k-logged"), one_run(FAILED, "k-latest")
    merged = RegistryRun(results=logged.results + latest.results)
    report = tmp_path / "envforge-report.json"
    report.write_text("{}")
    verdicts = [{"uri": "models:/fraud/3", "verdict": "drifted"}]
    run_id = mlflow_log.log_run(merged, store, "nightly", [report], started_ms=1_700_000_000_000,
                                passes=[("logged", logged), ("latest", latest)], verdicts=verdicts)

    params = MlflowClient(tracking_uri=store).get_run(run_id).data.params
    assert params["fraud/3.status"] == "passed" and params["fraud/3.env_key"] == "k-logged"
    assert params["fraud/3 as of latest.status"] == "failed" and params["fraud/3 as of latest.env_key"] == "k-latest"
    assert params["fraud/3.verdict"] == "drifted"
    assert [a.path for a in MlflowClient(tracking_uri=store).list_artifacts(run_id, "reports")] == ["reports/envforge-report.json"]

    history = trend.read_history(store, "nightly")
    assert [(n.date, n.status) for n in history["fraud/3"]] == [("2023-11-14 22:13", "drifted")]
    page = trend.section(logged, history, "2023-11-15 22:13", "nightly")
    assert page.count("class='night'") == 2 and "data-status='drifted'" in page and "2023-11-15 22:13: passed" in page
