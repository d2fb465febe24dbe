"""The baseline kind of recorded expectations and verify-registry's drift verdicts, without building anything."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from envforge.commands.baseline import AS_LOGGED, TODAY, kind_for
from envforge.errors import UsageError
from envforge.modeldir import expectations
from envforge.registry import drift
from envforge.result import FAILED, PASSED, UNVERIFIED, VerifyResult
from envforge.spec.asof import AsOf


def _file(tmp_path: Path, **extra: object) -> Path:
    path = tmp_path / expectations.FILENAME
    path.write_text(json.dumps({"format": 1, "examples": [{"name": "e", "prediction": {"kind": "none"}}], **extra}))
    return path


def test_a_file_without_the_field_is_a_training_env_recording(tmp_path: Path) -> None:
    loaded = expectations.load(_file(tmp_path))
    assert loaded.kind == expectations.TRAINING and loaded.describe() == "the training environment"


def test_an_as_logged_baseline_is_named_as_such(tmp_path: Path) -> None:
    loaded = expectations.load(_file(tmp_path, baseline={"kind": AS_LOGGED, "resolved_as_of": "2024-03-01T23:59:59Z"}))
    assert loaded.kind == AS_LOGGED
    assert loaded.describe() == "an as-logged rebuild (resolved as of 2024-03-01T23:59:59Z)"


def test_build_marks_the_document(tmp_path: Path) -> None:
    (tmp_path / "model.pkl").write_bytes(b"the model")
    document = expectations.build([{"name": "e"}], {"examples": [{"name": "e", "ok": True, "prediction": 1}]}, "0",
                                  {"kind": AS_LOGGED, "resolved_as_of": "x"}, model_dir=tmp_path)
    assert document["baseline"]["kind"] == AS_LOGGED
    assert expectations.build([], {}, "0", model_dir=tmp_path)["baseline"] == {"kind": expectations.TRAINING}
    # every baseline (record's, --record-missing's) carries the digests verify checks first (issue 29)
    assert document["artifacts"] == {"model.pkl": {"sha256": hashlib.sha256(b"the model").hexdigest(), "size": 9}}


def test_kind_for_the_resolution() -> None:
    assert kind_for(AsOf("logged", "2024-03-01T23:59:59Z", True, "why"))["kind"] == AS_LOGGED
    assert kind_for(AsOf("latest", None, True, "why"))["kind"] == TODAY
    assert kind_for(AsOf("date", "2024-05-01T23:59:59Z", True, "why"))["kind"] == "rebuild as of a date"


def _result(status: str, model_error: dict | None = None) -> VerifyResult:
    result = VerifyResult(uri="models:/m/1", backend="uv").finish(status, "r")
    result.model_error = model_error
    return result


@pytest.mark.parametrize(("logged", "latest", "verdict"), [
    (_result(PASSED), _result(PASSED), drift.STILL_WORKS),
    (_result(PASSED), _result(FAILED), drift.DRIFTED),
    (_result(PASSED), _result("error"), drift.DRIFTED),
    (_result(UNVERIFIED), _result(FAILED, {"stage": "load"}), drift.DRIFTED),
    (_result(FAILED), _result(PASSED), drift.NEVER),
    (_result("error"), _result("error"), drift.NEVER),
    (_result(UNVERIFIED), _result(UNVERIFIED), drift.NO_BASELINE),
    (_result(PASSED), _result(UNVERIFIED), drift.REPRODUCES),
])
def test_verdicts(logged: VerifyResult, latest: VerifyResult, verdict: str) -> None:
    assert drift.verdict(logged, latest) == verdict


def test_resolutions_are_checked_and_logged_goes_first() -> None:
    assert drift.parse_resolutions("latest,logged") == ("logged", "latest")
    assert drift.parse_resolutions(None) == (None,)
    with pytest.raises(UsageError, match="in the future"):
        drift.parse_resolutions("logged,2999-01-01")
    with pytest.raises(UsageError, match="once"):
        drift.parse_resolutions("logged,logged")


def test_record_missing_only_in_the_first_pass() -> None:
    from envforge.registry.plan import RegistryOptions

    steps = drift.passes(RegistryOptions(tracking_uri="x", record_missing=True), ("logged", "latest"))
    assert [s.options.record_missing for s in steps] == [True, False]
    assert [s.options.build.resolve for s in steps] == ["logged", "latest"]
