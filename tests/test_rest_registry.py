"""When the warm path's REST client (envforge/modeldir/rest_registry.py) answers itself and when it leaves the
registry call to MLflow's client: only where it sends exactly what MLflow would send."""

from __future__ import annotations

import base64
import ssl
from pathlib import Path

import pytest

from envforge.modeldir import rest_registry


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (*rest_registry._UNSUPPORTED, "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN",
                 "MLFLOW_TRACKING_INSECURE_TLS", "MLFLOW_TRACKING_SERVER_CERT_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))


@pytest.mark.parametrize("uri", ["sqlite:///x.db", "databricks", "http://user:pw@host:5000", "http://host:5000?x=1", "file:///tmp"])
def test_only_a_plain_http_uri_is_asked_directly(uri: str) -> None:
    assert not rest_registry.usable(uri)
    assert rest_registry.usable("http://127.0.0.1:5000") and rest_registry.usable("https://host/prefix/")


@pytest.mark.parametrize("variable", rest_registry._UNSUPPORTED)
def test_auth_plugins_signing_client_certs_and_workspaces_are_mlflows(variable: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(variable, "x")
    assert not rest_registry.usable("http://127.0.0.1:5000")


def test_credentials_come_from_where_mlflow_reads_them(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert rest_registry._auth() == {}
    (tmp_path / ".mlflow").mkdir()
    (tmp_path / ".mlflow" / "credentials").write_text("[mlflow]\nmlflow_tracking_username = ann\nmlflow_tracking_password = f1le\n")
    assert rest_registry._auth() == {"Authorization": "Basic " + base64.b64encode(b"ann:f1le").decode()}
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "env")  # the variable wins over the file, as in MLflow
    assert rest_registry._auth() == {"Authorization": "Basic " + base64.b64encode(b"ann:env").decode()}
    (tmp_path / ".mlflow" / "credentials").unlink()
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok")  # a password without a user: the token
    assert rest_registry._auth() == {"Authorization": "Bearer tok"}


def test_tls_is_checked_as_mlflow_checks_it(monkeypatch: pytest.MonkeyPatch) -> None:
    assert rest_registry._tls().verify_mode == ssl.CERT_REQUIRED
    monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "true")
    assert rest_registry._tls().verify_mode == ssl.CERT_NONE
    monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "false")
    assert rest_registry._tls().verify_mode == ssl.CERT_REQUIRED


def test_a_server_that_cannot_be_reached_leaves_the_answer_to_mlflow() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    assert rest_registry.model_version(f"http://127.0.0.1:{port}", "m", "1") is None
    assert rest_registry.model_version("http://127.0.0.1:1", "m", "latest") is None
