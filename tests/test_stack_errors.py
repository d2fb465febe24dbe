"""The pure parts of issue 31: which error means what, which variables a model's process never sees, the
registry's exit code when every version errored. The servers themselves: integration/test_stacks.py."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from envforge.errors import ResolveError
from envforge.modeldir.access import check_store_client, explain, write_private
from envforge.registry.exit_rule import not_passed_code
from envforge.result import VerifyResult
from envforge.secret_env import credentials_seen, without_credentials

BODY_401 = ("API request to endpoint /api/2.0/mlflow/model-versions/get failed with error code 401 != 200. "
            "Response body: 'You are not authenticated.'")


def test_401_and_403_name_the_variables_and_tell_themselves_apart(monkeypatch) -> None:
    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    unauthenticated = explain(Exception(BODY_401), "fetch models:/m/1", "http://u:pw@host:5000")
    assert unauthenticated and "HTTP 401" in unauthenticated.message and "pw" not in unauthenticated.message
    assert "MLFLOW_TRACKING_TOKEN" in unauthenticated.remedy and "none of them is set" in unauthenticated.remedy
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "reader")
    denied = explain(Exception(BODY_401.replace("401", "403")), "tag m/1", "http://host")
    assert denied and "HTTP 403" in denied.message and "'reader'" in denied.message and "EDIT" in denied.remedy
    assert explain(Exception("connection refused"), "fetch", "http://host") is None


def test_a_missing_store_sdk_and_missing_aws_keys_say_what_to_install_or_set() -> None:
    missing = explain(ModuleNotFoundError("No module named 'botocore'", name="botocore"), "fetch", "http://h")
    assert missing and "envforge-mlflow[s3]" in missing.remedy and "reachable" not in missing.paragraph()
    denied = explain(Exception("An error occurred (AccessDenied) when calling the GetObject operation"), "fetch", "http://h")
    assert denied and "AWS_ACCESS_KEY_ID" in denied.remedy and "AccessDenied" in denied.message
    check_store_client("mlflow-artifacts:/1/x")  # proxied: nothing to import on this side


def test_gs_without_its_sdk_is_refused_before_the_download(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "google.cloud.storage", None)  # absent, whatever this venv has
    try:
        check_store_client("gs://bucket/model")
    except ResolveError as exc:
        assert "envforge-mlflow[gcs]" in exc.remedy
    else:
        raise AssertionError("gs:// without google-cloud-storage was not refused")


def test_the_model_process_gets_no_credential() -> None:
    env = {"MLFLOW_TRACKING_USERNAME": "u", "MLFLOW_TRACKING_PASSWORD": "p", "MLFLOW_TRACKING_TOKEN": "t",
           "MLFLOW_TRACKING_URI": "http://u:p@host", "MLFLOW_ENABLE_ASYNC_LOGGING": "true", "AWS_SECRET_ACCESS_KEY": "s",
           "UV_INDEX_URL": "https://tok:x@index/simple", "PYTHONPATH": "/src", "MLFLOW_S3_ENDPOINT_URL": "http://s3:9000"}
    assert without_credentials(env) == {"MLFLOW_ENABLE_ASYNC_LOGGING": "true", "PYTHONPATH": "/src",
                                        "MLFLOW_S3_ENDPOINT_URL": "http://s3:9000"}


def test_cache_metadata_is_private(tmp_path: Path) -> None:
    os.umask(0o022)
    write_private(tmp_path / "m.json", "{}")
    assert stat.S_IMODE((tmp_path / "m.json").stat().st_mode) == 0o600


def test_all_versions_erroring_alike_exit_with_their_code() -> None:
    def error(code: int) -> VerifyResult:
        return VerifyResult(uri="models:/m/1", backend="uv").finish("error", "x", code)

    assert not_passed_code([error(2), error(2)]) == 2
    assert not_passed_code([error(2), error(3)]) == 1
    assert not_passed_code([error(2), VerifyResult(uri="u", backend="uv").finish("failed", "x")]) == 1


def test_run_and_shell_name_the_credentials_they_can_see_never_the_values() -> None:
    seen = credentials_seen({"AWS_SECRET_ACCESS_KEY": "s3cr3t", "MLFLOW_TRACKING_PASSWORD": "pw", "PATH": "/bin"})
    assert seen == "2 credential variable(s): AWS_SECRET_ACCESS_KEY, MLFLOW_TRACKING_PASSWORD" and "s3cr3t" not in seen
    assert credentials_seen({"PATH": "/bin"}) == ""
