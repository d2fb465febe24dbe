"""Errors that mean "who you are" or "what you have installed", not "the server is down" (issue 31).

MLflow reports a refused request as `... failed with error code 401 != 200. Response body: ...` and a missing
object-store SDK as `No module named 'botocore'`: both used to reach the user with "check that the tracking server is
reachable". Here each is told apart and given the remedy that works: the variables to set, the extra to install.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from envforge.errors import ResolveError
from envforge.redact import redact

# artifact URI scheme -> (the module MLflow imports for it, the envforge extra that installs it)
STORE_CLIENTS = {"s3": ("boto3", "s3"), "gs": ("google.cloud.storage", "gcs"), "wasbs": ("azure.storage.blob", "azure"),
                 "abfss": ("azure.storage.blob", "azure")}
_MODULE_EXTRA = {"botocore": "s3", "boto3": "s3", "google": "gcs", "azure": "azure"}
_MISSING = re.compile(r"No module named '(?P<module>[\w.]+)'")
_CODE = re.compile(r"error code (?P<code>\d{3})|\b(?P<named>401|403)\b (?:Unauthorized|Forbidden|Client Error)")
AUTH_VARIABLES = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")


def check_store_client(artifact_uri: str) -> None:
    """Before a download from an object store the client reads itself: its SDK must be importable."""
    scheme = urlparse(artifact_uri).scheme
    if scheme in STORE_CLIENTS:
        module, extra = STORE_CLIENTS[scheme]
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise _missing_sdk(module.split(".")[0], extra, redact(artifact_uri))
        if scheme == "s3" and not _aws_credentials():  # MLflow would say "Failed to download artifacts from path ''"
            raise ResolveError(f"The model's artifacts are in S3 ({redact(artifact_uri)}) and no AWS credentials were found.",
                               _aws_remedy())


def store_of(client: Any, meta: dict[str, Any]) -> str:
    """Where the artifacts of a run or logged model live (its artifact URI), "" when unknown or not said."""
    try:
        if meta.get("model_id"):
            return str(client.get_logged_model(meta["model_id"]).artifact_location or "")
        if meta.get("run_id"):
            return str(client.get_run(meta["run_id"]).info.artifact_uri or "")
    except Exception:  # noqa: BLE001 - only a hint: the download says what is wrong
        return ""
    return ""


def _aws_credentials() -> bool:
    import boto3

    try:
        return boto3.Session().get_credentials() is not None
    except Exception:  # noqa: BLE001 - a broken profile: let the download say it
        return True


def explain(exc: BaseException, doing: str, tracking: str) -> ResolveError | None:
    """A ResolveError naming the fix when `exc` is an authentication, permission, object-store credential or missing
    SDK error; None for anything else (the caller keeps its own message). `doing`: e.g. "fetch models:/m/1"."""
    text = str(exc)
    first = redact(text.strip().splitlines()[0]) if text.strip() else type(exc).__name__
    if isinstance(exc, ModuleNotFoundError) or _MISSING.search(text):
        module = getattr(exc, "name", None) or (m.group("module") if (m := _MISSING.search(text)) else "")
        extra = _MODULE_EXTRA.get(module.split(".")[0]) if module else None
        if extra:
            return _missing_sdk(module.split(".")[0], extra, "the model's artifact store")
    code = _status(text)
    server = redact(tracking)
    if code == 401:
        return ResolveError(f"The tracking server {server} refused to {doing}: not authenticated (HTTP 401): "
                            f"{_without_body(first)}.", _authenticate_remedy())
    if code == 403:
        user = os.environ.get("MLFLOW_TRACKING_USERNAME")
        who = f"the user {user!r}" if user else "these credentials"
        return ResolveError(f"The tracking server {server} does not allow {who} to {doing} (HTTP 403, permission denied).",
                            "Ask the server's admin for the permission (EDIT on the experiment or registered model to "
                            "store expectations, tags or runs; READ to verify), or set MLFLOW_TRACKING_USERNAME and "
                            "MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN) to a user who has it.")
    name = type(exc).__name__
    if name in ("NoCredentialsError", "PartialCredentialsError") or "Unable to locate credentials" in text:
        return ResolveError(f"Could not {doing}: the model's artifacts are in S3 and no AWS credentials were found ({first}).",
                            _aws_remedy())
    if any(word in text for word in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken")):
        return ResolveError(f"Could not {doing}: the S3 store refused these AWS credentials ({_s3_code(text)}).",
                            _aws_remedy())
    return None


def _status(text: str) -> int | None:
    m = _CODE.search(text)
    if not m:
        return None
    return int(m.group("code") or m.group("named"))


def _without_body(first: str) -> str:
    return first.split(" Response body:", 1)[0].rstrip(".")


def _s3_code(text: str) -> str:
    m = re.search(r"\((AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|ExpiredToken|403)\)", text)
    return m.group(1) if m else "access denied"


def _authenticate_remedy() -> str:
    set_now = [name for name in AUTH_VARIABLES if os.environ.get(name)]
    now = (f" ({' and '.join(set_now)} {'is' if len(set_now) == 1 else 'are'} set: check the values)" if set_now
           else " (none of them is set)")
    return ("Set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (MLflow's basic-auth app) or MLFLOW_TRACKING_TOKEN "
            f"(a bearer token) in the environment envforge runs in{now}; envforge never writes them anywhere.")


def _aws_remedy() -> str:
    return ("Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials), or "
            "AWS_PROFILE, for a principal that may read the bucket; for an S3-compatible store also MLFLOW_S3_ENDPOINT_URL. "
            "Or let the server proxy the artifacts (`mlflow server --serve-artifacts`, mlflow-artifacts: URIs).")


def _missing_sdk(module: str, extra: str, where: str) -> ResolveError:
    return ResolveError(f"Reading {where} needs the Python package {module!r}, which is not installed where envforge runs "
                        "(the tracking server is fine: the client reads this artifact store itself).",
                        f"Install the extra: pip install 'envforge-mlflow[{extra}]' (or let the server proxy the artifacts: "
                        "`mlflow server --serve-artifacts`).")


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` readable by its owner only (mode 600), replacing it whole."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)
