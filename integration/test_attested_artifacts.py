"""Issue 29 (1, 2, 5, 6) against a real `mlflow server` (artifacts proxied by it): recorded artifact digests, the
download cache's check, `verify --attest` and `check-attestation`. One server, one home (one built env) for the module;
the tests run in file order (the last ones replace an artifact on the server)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.cli import envforge, report
from tests.support.intoto import validate_statement

pytestmark = pytest.mark.slow
NAME = "digests-iris"


@pytest.fixture(scope="module")
def served(own_mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """An iris model logged through the server as NAME v1, recorded by `envforge record` (digests stored with the run)."""
    import mlflow
    from sklearn.linear_model import LogisticRegression

    from envforge.modeldir.resolve import tracking_scope
    from tests.support.models import iris_frame

    features, target = iris_frame()
    with tracking_scope(own_mlflow_server):
        mlflow.set_experiment("envforge-digests")
        with mlflow.start_run() as run:
            info = mlflow.sklearn.log_model(LogisticRegression(max_iter=300).fit(features, target), name="model",
                                            input_example=features.head(5), registered_model_name=NAME)
    home = tmp_path_factory.mktemp("digests-home")
    uri = f"models:/{NAME}/{info.registered_model_version}"
    recorded = envforge("record", uri, "--tracking-uri", own_mlflow_server, home=home)
    assert recorded.returncode == 0, recorded.output
    return {"uri": uri, "run_id": run.info.run_id, "model_id": info.model_id, "home": home, "tracking": own_mlflow_server}


def _verify(served: dict, out: Path, *extra: str):
    run = envforge("verify", str(served["uri"]), "--tracking-uri", str(served["tracking"]), "--json", str(out / "r.json"),
                   "--junit", str(out / "r.xml"), *extra, home=Path(str(served["home"])))
    return run, report(out / "r.json")


def test_verify_checks_the_recorded_digests_and_attests_the_verdict(served: dict, tmp_path: Path) -> None:
    from envforge.attestation.statement import PREDICATE_TYPE

    run, result = _verify(served, tmp_path, "--attest", str(tmp_path / "a.json"))
    assert run.returncode == 0 and result["status"] == "passed", run.output
    assert result["artifacts"]["verified"] is True and result["artifacts"]["changes"] == []
    statement = json.loads((tmp_path / "a.json").read_text())
    validate_statement(statement)
    assert statement["predicateType"] == PREDICATE_TYPE and statement["predicate"]["verdict"]["status"] == "passed"
    cached = next(Path(str(served["home"])).rglob(".envforge-download.json")).parent / "model"
    from envforge.modeldir.digests import digest_dir

    assert {s["name"]: s["digest"]["sha256"] for s in statement["subject"]} == {
        k: v["sha256"] for k, v in digest_dir(cached).items()}
    lock = statement["predicate"]["environment"]["lock"]
    assert "scikit-learn" in {p["name"] for p in lock["packages"]} and lock["digest"].startswith("sha256:")
    checked = envforge("check-attestation", str(tmp_path / "a.json"), str(served["uri"]), "--tracking-uri",
                       str(served["tracking"]), home=tmp_path / "deployer")
    assert checked.returncode == 0, checked.output
    assert "match the attestation" in checked.stdout


def test_a_cached_download_altered_on_disk_is_downloaded_again(served: dict, tmp_path: Path) -> None:
    cached = next(Path(str(served["home"])).rglob(".envforge-download.json")).parent / "model"
    victim = next(p for p in cached.iterdir() if p.name.startswith("model."))  # model.skops / model.pkl
    victim.write_bytes(victim.read_bytes() + b"tampered")
    run, result = _verify(served, tmp_path)
    assert run.returncode == 0 and result["status"] == "passed", run.output
    assert result["steps"][0]["detail"] == "downloaded"
    assert any(victim.name in w and "downloaded again" in w for w in result["warnings"]), result["warnings"]
    assert "downloaded again" in run.output
    assert not victim.read_bytes().endswith(b"tampered")
    # Same size, same mtime, other bytes: only --check sees it.
    import os

    stat = victim.stat()
    data = bytearray(victim.read_bytes())
    data[-1] ^= 0xFF
    victim.write_bytes(bytes(data))
    os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    run, result = _verify(served, tmp_path, "--check")
    assert run.returncode == 0 and result["status"] == "passed", run.output
    assert any("downloaded again" in w for w in result["warnings"]), result["warnings"]


def test_expectations_without_digests_are_unverified_not_passed(served: dict, tmp_path: Path) -> None:
    cached = next(Path(str(served["home"])).rglob(".envforge-download.json")).parent / "model"
    document = json.loads((cached / "envforge-expectations.json").read_text())
    document.pop("artifacts")
    older = tmp_path / "older-expectations.json"
    older.write_text(json.dumps(document))
    run, result = _verify(served, tmp_path, "--expected", str(older))
    assert result["status"] == "unverified" and run.returncode == 0, run.output
    assert "without the model files' digests" in result["reason"]
    run, result = _verify(served, tmp_path, "--expected", str(older), "--require-expected")
    assert run.returncode == 1 and result["status"] == "unverified", run.output


def test_the_lock_digest_is_the_attested_one(served: dict, tmp_path: Path) -> None:
    locked = envforge("lock", str(served["uri"]), "--tracking-uri", str(served["tracking"]), "-o", str(tmp_path / "lock.txt"),
                      home=Path(str(served["home"])))
    assert locked.returncode == 0, locked.output
    printed = re.search(r"digest (sha256:[0-9a-f]{64})", locked.output)
    assert printed, locked.output
    assert f"# digest: {printed.group(1)}" in (tmp_path / "lock.txt").read_text()
    run, result = _verify(served, tmp_path, "--lock", str(tmp_path / "lock.txt"), "--attest", str(tmp_path / "a.json"))
    assert run.returncode == 0 and result["status"] == "passed", run.output
    lock = json.loads((tmp_path / "a.json").read_text())["predicate"]["environment"]["lock"]
    assert lock["digest"] == printed.group(1)
    assert all(p["hashes"] for p in lock["packages"])


def test_an_artifact_replaced_on_the_server_fails_verify_and_the_attestation(served: dict, tmp_path: Path) -> None:
    """A colleague re-logs another valid model, which predicts the same on the example, to the same artifact path."""
    import mlflow.sklearn
    from mlflow.tracking import MlflowClient
    from sklearn.linear_model import LogisticRegression

    from tests.support.models import iris_frame

    run, _ = _verify(served, tmp_path, "--attest", str(tmp_path / "before.json"))
    assert run.returncode == 0, run.output
    features, target = iris_frame()
    other = LogisticRegression(max_iter=500, C=0.5).fit(features, target)
    original = LogisticRegression(max_iter=300).fit(features, target)
    assert list(other.predict(features.head(5))) == list(original.predict(features.head(5)))  # agrees on the example
    saved = tmp_path / "other"
    mlflow.sklearn.save_model(other, str(saved), input_example=features.head(5))
    replaced = next(p for p in saved.iterdir() if p.name.startswith("model."))
    MlflowClient(str(served["tracking"])).log_model_artifact(str(served["model_id"]), str(replaced))  # the version's source

    run, result = _verify(served, tmp_path, "--refresh")
    assert run.returncode == 1 and result["status"] == "failed", run.output
    assert result["error"]["kind"] == "artifact-changed"
    change = result["artifacts"]["changes"]
    assert [c["path"] for c in change] == [replaced.name] and change[0]["recorded_sha256"] != change[0]["actual_sha256"]
    assert change[0]["recorded_sha256"] in run.output and change[0]["actual_sha256"] in run.output
    assert replaced.name in (tmp_path / "r.xml").read_text() and change[0]["actual_sha256"] in (tmp_path / "r.xml").read_text()
    assert [s["name"] for s in result["steps"]] == ["resolve"]  # nothing was built

    checked = envforge("check-attestation", str(tmp_path / "before.json"), str(served["uri"]), "--tracking-uri",
                       str(served["tracking"]), home=tmp_path / "deployer")
    assert checked.returncode == 1, checked.output
    assert replaced.name in checked.stdout and "Traceback" not in checked.output
