"""--tag-results: the outcome as tags on each model version, and `envforge status URI` to read them."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from envforge.errors import ResolveError, UsageError
from envforge.modeldir.access import explain
from envforge.redact import redact
from envforge.registry.run import RegistryRun
from envforge.version import __version__

STATUS, VERIFIED_AT, ENV_KEY, VERSION = "envforge.status", "envforge.verified_at", "envforge.env_key", "envforge.version"
_URI_RE = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[^/]+))/?$")


def write_tags(run: RegistryRun, tracking_uri: str) -> list[str]:
    """Tag every registered version of the run; returns one warning per version that could not be tagged."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    warnings = []
    for target, result in run.results:
        if not (target.name and target.version) or result.reason.startswith("interrupted"):
            continue
        tags = {STATUS: result.status, VERIFIED_AT: now, ENV_KEY: result.env_key or "", VERSION: __version__}
        try:
            for key, value in tags.items():
                client.set_model_version_tag(target.name, target.version, key, value)
        except Exception as exc:  # MLflow raises many types; one version's tags never stop the others
            known = explain(exc, f"tag {target.label}", tracking_uri)  # 401/403: who may, and the variables to set
            warnings.append(f"{known.message} {known.remedy}" if known else
                            f"could not tag {target.label}: {redact(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)}")
    return warnings


@dataclass(frozen=True)
class Status:
    name: str
    version: str
    tags: dict[str, str]

    @property
    def passed(self) -> bool:
        return self.tags.get(STATUS) == "passed"


def read_status(uri: str, tracking_uri: str) -> Status:
    from mlflow.tracking import MlflowClient

    match = _URI_RE.match(uri.strip())
    if not match:
        raise UsageError(f"{uri!r} is not a registered model version URI.", "Use models:/<name>/<version> or models:/<name>@<alias>.")
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    name = match.group("name")
    try:
        if match.group("alias"):
            version = client.get_model_version_by_alias(name, match.group("alias"))
        else:
            version = client.get_model_version(name, match.group("version"))
    except Exception as exc:  # MLflow raises many types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ResolveError(f"Could not read {redact(uri)} from {redact(tracking_uri)}: {redact(first)}",
                           "Check the name, version or alias, and --tracking-uri (or MLFLOW_TRACKING_URI).") from None
    tags = {k: str(v) for k, v in (version.tags or {}).items() if k.startswith("envforge.")}
    return Status(name=name, version=str(version.version), tags=tags)
