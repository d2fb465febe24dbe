"""Issue 29 on a model a real user logged (the shared corpus, not one the tests made): record → verify → attest →
check-attestation. aryan-sklearn-serving is the corpus's smallest model with an input example (MLflow 2.22,
Python 3.12, scikit-learn 1.6.1): its env builds in seconds from uv's cache and it predicts on its own example."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import envforge, report
from tests.support.corpus import CORPUS, MISSING, corpus_copy
from tests.support.intoto import validate_statement

pytestmark = pytest.mark.slow
NAME = "aryan-sklearn-serving"


@pytest.fixture(scope="module")
def attested(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The corpus model copied, recorded, verified with `--attest` once for the module."""
    assert (CORPUS / NAME).is_dir(), MISSING
    root = tmp_path_factory.mktemp("corpus-attested")
    model, home = corpus_copy(NAME, root), root / "home"
    recorded = envforge("record", str(model), home=home)
    assert recorded.returncode == 0, recorded.output
    statement = root / "verdict.intoto.json"
    verified = envforge("verify", str(model), "--attest", str(statement), "--json", str(root / "r.json"), home=home)
    assert verified.returncode == 0, verified.output
    return {"model": model, "home": home, "statement": statement, "report": root / "r.json"}


def test_a_real_models_verdict_is_attested_with_its_files_and_its_lock(attested: dict[str, Path]) -> None:
    from envforge.modeldir.digests import artifact_files, file_sha256

    result = report(attested["report"])
    assert result["status"] == "passed" and result["artifacts"]["verified"] is True, result["reason"]
    assert result["artifacts"]["files"] == len(artifact_files(attested["model"]))
    statement = json.loads(attested["statement"].read_text())
    validate_statement(statement)
    subjects = {s["name"]: s["digest"]["sha256"] for s in statement["subject"]}
    assert subjects == {rel: file_sha256(path) for rel, path in artifact_files(attested["model"]).items()}
    assert {"MLmodel", "model.pkl", "input_example.json"} <= set(subjects)  # the user's files; not envforge's own
    assert "envforge-expectations.json" not in subjects
    predicate = statement["predicate"]
    assert predicate["verdict"]["status"] == "passed"
    versions = {p["name"]: p["version"] for p in predicate["environment"]["lock"]["packages"]}
    assert versions["scikit-learn"] == "1.6.1" and versions["numpy"] == "2.2.6"  # the model's own pins, as built


def test_the_deploy_step_accepts_the_same_bytes_and_names_a_changed_file(attested: dict[str, Path], tmp_path: Path) -> None:
    statement, model = str(attested["statement"]), attested["model"]
    same = envforge("check-attestation", statement, str(model), home=tmp_path / "deployer")
    assert same.returncode == 0, same.output
    assert "match the attestation" in same.stdout

    changed = corpus_copy(NAME, tmp_path)  # the same model from the corpus, one file edited
    example = changed / "input_example.json"
    example.write_text(example.read_text() + "\n")  # still valid JSON; other bytes
    refused = envforge("check-attestation", statement, str(changed), home=tmp_path / "deployer")
    assert refused.returncode == 1, refused.output
    assert "input_example.json" in refused.output and "Traceback" not in refused.output
