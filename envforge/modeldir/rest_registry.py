"""What an http(s) tracking server says about models:/NAME/N and NAME@ALIAS, asked with one REST call, no MLflow import.

The download cache asks the registry which run or logged model a cached registered version is before serving it
(a store recreated at the same URI reuses version numbers: modeldir/resolve.py). Through MLflow's client that costs
`import mlflow` (seconds with full mlflow installed) on every warm verify, before the model starts. The answer is one
GET of MLflow's REST API, the same one MLflow's client sends (`/api/2.0/mlflow/model-versions/get`,
`/api/2.0/mlflow/registered-models/alias`), with the credentials MLflow would send: MLFLOW_TRACKING_USERNAME and
_PASSWORD (or ~/.mlflow/credentials) as basic auth, else MLFLOW_TRACKING_TOKEN as a bearer token, and TLS checked the
way MLflow checks it (MLFLOW_TRACKING_INSECURE_TLS, MLFLOW_TRACKING_SERVER_CERT_PATH, the CA bundle requests uses).

Anything this client does not do exactly as MLflow would (an auth plugin, AWS SigV4, a client certificate, workspaces,
request-header plugins, credentials in the URI) or any answer but a well-formed 200 (an error, a timeout, a 404)
answers None, and the caller asks MLflow as before, which says what is wrong: never a guess.
"""

from __future__ import annotations

import base64
import configparser
import json
import os
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse

from envforge.modeldir.sqlite_registry import VersionRow

TIMEOUT = 10.0  # seconds for the one request; past it MLflow's client (with its own retries) is asked instead
# Set, any of these makes MLflow authenticate, sign or route the request by rules this client does not repeat.
_UNSUPPORTED = ("MLFLOW_TRACKING_AUTH", "MLFLOW_TRACKING_AWS_SIGV4", "MLFLOW_TRACKING_CLIENT_CERT_PATH",
                "MLFLOW_ENABLE_WORKSPACES", "MLFLOW_WORKSPACE", "MLFLOW_WORKSPACE_STORE_URI", "_MLFLOW_DATABRICKS_TRAFFIC_ID")
_HEADER_PLUGINS = "mlflow.request_header_provider"  # entry points whose headers MLflow adds to every request
_API = "/api/2.0/mlflow"


def model_version(tracking: str, name: str, version: str) -> VersionRow | None:
    """The registry's answer for NAME/VERSION at the http(s) server `tracking`; None when MLflow must be asked."""
    if not version.isdigit():
        return None
    found = _get(tracking, "/model-versions/get", {"name": name, "version": version})
    return _row(found, name, version)


def alias_version(tracking: str, name: str, alias: str) -> str | None:
    """The version NAME@ALIAS points at on the http(s) server `tracking`; None when MLflow must answer."""
    if alias.lower() == "latest":  # MLflow's own rule (the newest version), not an alias the server stores
        return None
    found = _get(tracking, "/registered-models/alias", {"name": name, "alias": alias})
    mv = found.get("model_version") if isinstance(found, dict) else None
    number = mv.get("version") if isinstance(mv, dict) else None
    if not isinstance(number, str) or not number.isdigit() or mv.get("name") != name:
        return None
    return number


def _row(found: Any, name: str, version: str) -> VersionRow | None:
    mv = found.get("model_version") if isinstance(found, dict) else None
    if not isinstance(mv, dict) or mv.get("name") != name or str(mv.get("version")) != version:
        return None
    created = mv.get("creation_timestamp")
    return VersionRow(run_id=mv.get("run_id") or None, source=mv.get("source") or None,
                      creation_time=int(created) if isinstance(created, (int, str)) and str(created).isdigit() else None,
                      model_id=mv.get("model_id") or None)


def usable(tracking: str) -> bool:
    """Whether this client sends exactly the request MLflow's client would send to `tracking`."""
    parsed = urlparse(tracking)
    if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.username or parsed.password:
        return False  # credentials in the URI: requests' rules, not repeated here
    if parsed.query or parsed.fragment or any(os.environ.get(v) for v in _UNSUPPORTED):
        return False
    from importlib.metadata import entry_points

    return not entry_points(group=_HEADER_PLUGINS)


def _get(tracking: str, endpoint: str, params: dict[str, str]) -> Any:
    if not usable(tracking):
        return None
    url = f"{tracking.rstrip('/')}{_API}{endpoint}?{urlencode(params)}"  # MLflow strips one trailing "/"; same URL
    request = urllib.request.Request(url, headers={"Accept": "application/json", **_auth()})
    try:
        context = _tls() if url.startswith("https:") else None
        with urllib.request.urlopen(request, timeout=TIMEOUT, context=context) as response:
            if response.status != 200:
                return None
            return json.loads(response.read().decode("utf-8"))
    except (OSError, ValueError, ssl.SSLError):  # refused, timed out, 4xx/5xx (HTTPError), not JSON: MLflow answers
        return None


def _auth() -> dict[str, str]:
    """The Authorization header MLflow's client sends (mlflow.utils.rest_utils.http_request), from the same sources."""
    username, password = _file_credentials()
    username = os.environ.get("MLFLOW_TRACKING_USERNAME") or username
    password = os.environ.get("MLFLOW_TRACKING_PASSWORD") or password
    if username and password:
        return {"Authorization": "Basic " + base64.standard_b64encode(f"{username}:{password}".encode()).decode()}
    if token := os.environ.get("MLFLOW_TRACKING_TOKEN"):
        return {"Authorization": f"Bearer {token}"}
    return {}


def _file_credentials() -> tuple[str | None, str | None]:
    path = Path(os.path.expanduser("~/.mlflow/credentials"))
    if not path.is_file():
        return None, None
    config = configparser.ConfigParser()
    try:
        config.read(path)
    except configparser.Error:
        return None, None
    section = config["mlflow"] if "mlflow" in config else {}
    return section.get("mlflow_tracking_username"), section.get("mlflow_tracking_password")


def _tls() -> ssl.SSLContext:
    """TLS as MLflow's requests session checks it: MLFLOW_TRACKING_SERVER_CERT_PATH, else (unless
    MLFLOW_TRACKING_INSECURE_TLS) requests' CA bundle (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, else certifi's)."""
    if cert := os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH"):
        return ssl.create_default_context(cafile=cert) if os.path.isfile(cert) else ssl.create_default_context(capath=cert)
    if os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").strip().lower() in ("true", "1"):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if not bundle:
        try:
            import certifi

            bundle = certifi.where()
        except ImportError:
            bundle = None
    return ssl.create_default_context(cafile=bundle) if bundle else ssl.create_default_context()
