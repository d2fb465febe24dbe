"""Baselines for models nobody recorded (issue 12, part 4), on real parts: the numpy-1 scikit-learn model of
test_resolve_asof.py (logged by MLflow 2.11, requirements `mlflow`, `scikit-learn==1.3.0`, `numpy`, logged
"2024-03-01": it loads as logged and fails with today's numpy 2), a pyfunc model with pinned requirements
logged by today's MLflow (it works both ways), a real `mlflow server`, real uv builds.
"""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_resolve_asof import numpy1_model  # noqa: F401  (the cached numpy-1 model: a fixture)

from tests.support.cli import envforge, report
from tests.support.models import SCALE

pytestmark = pytest.mark.slow

PYFUNC = SCALE.format(factor=3)
AS_LOGGED = "recorded in an as-logged rebuild (resolved as of 2024-03-01T23:59:59Z)"


def test_record_resolve_logged_is_a_marked_baseline(numpy1_model: Path, tmp_path: Path) -> None:  # noqa: F811
    model = Path(shutil.copytree(numpy1_model / "model", tmp_path / "model"))
    (model / "envforge-expectations.json").unlink(missing_ok=True)
    home = tmp_path / "home"
    done = envforge("record", str(model), "--resolve", "logged", home=home)
    assert done.returncode == 0, done.output
    assert "in an as-logged rebuild (resolved as of 2024-03-01T23:59:59Z)" in done.stdout, done.stdout
    stored = json.loads((model / "envforge-expectations.json").read_text())
    assert stored["baseline"]["kind"] == "as-logged rebuild" and stored["baseline"]["resolved_as_of"] == "2024-03-01T23:59:59Z"
    assert {"name": "numpy", "version": "1.26.4"} in stored["freeze"]  # the rebuild's freeze, not this venv's

    latest = envforge("verify", str(model), "--resolve", "latest", "--json", str(tmp_path / "l.json"),
                      "--junit", str(tmp_path / "l.xml"), home=home)
    assert latest.returncode == 1, latest.output
    failed = report(tmp_path / "l.json")
    assert failed["status"] == "failed" and failed["expectations_kind"] == "as-logged rebuild"
    assert failed["baseline"]["resolved_as_of"] == "2024-03-01T23:59:59Z"
    assert f"expectations: {AS_LOGGED}" in " ".join(latest.stdout.split())
    props = {p.get("name"): p.get("value") for p in ET.parse(tmp_path / "l.xml").getroot().iter("property")}
    assert props["expectations.kind"] == "as-logged rebuild"

    again = envforge("verify", str(model), "--json", str(tmp_path / "d.json"), home=home)  # the default: as logged
    assert again.returncode == 0, again.output
    passed = report(tmp_path / "d.json")
    assert passed["status"] == "passed" and AS_LOGGED in passed["reason"] and passed["env"]["reused"] is True


def test_record_without_resolve_is_a_training_env_recording(numpy1_model: Path, tmp_path: Path) -> None:  # noqa: F811
    model = Path(shutil.copytree(numpy1_model / "model", tmp_path / "model"))
    done = envforge("record", str(model), "--python", str(numpy1_model / "venv" / "bin" / "python"), home=tmp_path / "home")
    assert done.returncode == 0 and "in the training environment" in done.stdout, done.output
    assert json.loads((model / "envforge-expectations.json").read_text())["baseline"] == {"kind": "training environment"}


@pytest.fixture(scope="module")
def registry(own_mlflow_server: str, numpy1_model: Path, tmp_path_factory: pytest.TempPathFactory) -> str:  # noqa: F811
    """`baseline-drifts/1`: the numpy-1 model as MLflow 2.11 wrote it; `baseline-steady/1`: a pinned pyfunc model. No expectations.
    A server of this module's own, and every run selects `baseline-*` all the same."""
    mlflow_server = own_mlflow_server
    import mlflow
    import pandas as pd

    from envforge.modeldir.resolve import tracking_scope
    from tests.support.models import pinned_requirements
    from tests.support.register import register_dir

    root = tmp_path_factory.mktemp("baseline-models")
    model = Path(shutil.copytree(numpy1_model / "model", root / "drifts"))
    (model / "envforge-expectations.json").unlink(missing_ok=True)
    assert register_dir(mlflow_server, "baseline-drifts", model) == "models:/baseline-drifts/1"
    (root / "steady.py").write_text(PYFUNC)
    with tracking_scope(mlflow_server):  # both MLflow URI globals, put back exactly as they were
        mlflow.set_experiment("envforge-baselines-pyfunc")
        with mlflow.start_run():
            mlflow.pyfunc.log_model(name="model", python_model=str(root / "steady.py"), registered_model_name="baseline-steady",
                                    input_example=pd.DataFrame({"x": [1.0, 2.0]}), pip_requirements=pinned_requirements())
    return mlflow_server


@pytest.fixture(scope="module")
def record_missing(registry: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("record-missing")
    run = envforge("verify-registry", "--tracking-uri", registry, "--models", "baseline-*", "--record-missing", "--json", str(out / "r.json"),
                   home=out / "home")
    return {"run": run, "report": json.loads((out / "r.json").read_text())}


def test_record_missing_stores_baselines_that_the_next_run_verifies(record_missing: dict, registry: str, tmp_path: Path) -> None:
    run, first = record_missing["run"], record_missing["report"]
    assert run.returncode == 0, run.output
    assert sorted(first["registry"]["baselines_recorded"]) == ["baseline-drifts/1", "baseline-steady/1"], first["registry"]
    assert "baseline recorded: baseline-drifts/1" in run.stdout
    for result in first["results"]:
        assert result["baseline"]["kind"] == "as-logged rebuild" and result["baseline"]["recorded_now"] is True
        assert "recorded a baseline" in result["reason"]
    # A new home downloads the versions again: the baselines were stored with the runs, not only in a cache.
    second = envforge("verify-registry", "--tracking-uri", registry, "--models", "baseline-*", "--json", str(tmp_path / "r.json"), home=tmp_path / "home")
    assert second.returncode == 0, second.output
    again = json.loads((tmp_path / "r.json").read_text())
    assert {r["uri"]: r["status"] for r in again["results"]} == {"models:/baseline-drifts/1": "passed", "models:/baseline-steady/1": "passed"}
    assert all(r["expectations_kind"] == "as-logged rebuild" and "recorded in an as-logged rebuild" in r["reason"]
               for r in again["results"])
    assert again["registry"].get("baselines_recorded", []) == []


def test_logged_and_latest_in_one_run_give_a_verdict_per_version(record_missing: dict, registry: str, tmp_path: Path) -> None:
    run = envforge("verify-registry", "--tracking-uri", registry, "--models", "baseline-*", "--resolve", "logged,latest", "--json", str(tmp_path / "r.json"),
                   "--junit", str(tmp_path / "r.xml"), "--html", str(tmp_path / "r.html"), home=tmp_path / "home")
    assert run.returncode == 1, run.output  # baseline-drifts/1 fails with today's packages
    document = json.loads((tmp_path / "r.json").read_text())
    verdicts = {v["uri"]: v for v in document["registry"]["verdicts"]}
    assert verdicts["models:/baseline-drifts/1"]["verdict"] == "drifted" and verdicts["models:/baseline-drifts/1"]["latest"] == "failed"
    assert verdicts["models:/baseline-steady/1"]["verdict"] == "still works with today's packages"
    assert "drifted (see `envforge bisect models:/baseline-drifts/1`): baseline-drifts/1" in " ".join(run.stdout.split())
    assert "verdicts: 1 drifted, 1 still works with today's packages" in run.stdout or \
        "verdicts: 1 still works with today's packages, 1 drifted" in run.stdout
    assert [r["resolve"] for r in document["registry"]["resolutions"]] == ["logged", "latest"]
    assert len(document["results"]) == 4
    modes = sorted(r["env"]["resolution"]["mode"] for r in document["results"])
    assert modes == ["latest", "latest", "logged", "logged"]
    keys = {(r["uri"], r["env"]["resolution"]["mode"]): r["env"]["key"] for r in document["results"]}
    assert keys[("models:/baseline-drifts/1", "logged")] != keys[("models:/baseline-drifts/1", "latest")]
    drift = next(s for s in ET.parse(tmp_path / "r.xml").getroot() if s.get("name") == "envforge.drift")
    assert drift.get("failures") == "1" and len(drift.findall("testcase")) == 2
    failing = drift.find("testcase[failure]")
    assert failing is not None and failing.get("name") == "models:/baseline-drifts/1"
    # Issue 30, point 5: the HTML's rows say which resolution they are, and the page says the finding per version
    page = (tmp_path / "r.html").read_text()
    for uri in ("models:/baseline-drifts/1", "models:/baseline-steady/1"):
        for resolve in ("logged", "latest"):
            assert page.count(f"data-uri='{uri}' data-resolve='{resolve}'") == 1, (uri, resolve)
    assert "baseline-drifts/1 (as logged)" in page and "baseline-drifts/1 (today&#x27;s packages)" in page  # the chart's labels
    finding = re.search(r"<li data-verdict='drifted' data-uri='models:/baseline-drifts/1'>(.*?)</li>", page)
    assert finding and "works as logged, breaks with today&#x27;s packages" in finding.group(1), page
    assert "works as logged and with today&#x27;s packages" in page  # baseline-steady/1
