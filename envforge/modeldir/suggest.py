""""Did you mean": the closest known URI scheme for a typo'd one, the closest registered model names for an unknown one.

Without this a `modles:/x/1` reaches MLflow's artifact-repository lookup, whose error lists every
artifact scheme it has and is followed by a remedy about the tracking server; and an unknown model
name only says "not found".
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from urllib.parse import urlparse

from envforge.errors import ResolveError
from envforge.redact import redact

# Tried first: what people type for a model. The rest are the artifact stores MLflow can download from.
PREFERRED = ("models", "runs", "file")


def known_schemes() -> list[str]:
    """models:, runs:, file: and every artifact-repository scheme MLflow registered (its plugins included)."""
    try:
        from mlflow.store.artifact.artifact_repository_registry import _artifact_repository_registry as registry

        others = sorted(str(s) for s in getattr(registry, "_registry", {}) if s)
    except Exception:  # an MLflow without that registry: the usual ones
        others = ["abfss", "dbfs", "ftp", "gs", "hdfs", "http", "https", "mlflow-artifacts", "s3", "sftp", "wasbs"]
    return list(PREFERRED) + [s for s in others if s not in PREFERRED]


def check_scheme(uri: str) -> None:
    """Refuse a scheme MLflow cannot download from, naming the closest one it can."""
    scheme = urlparse(uri).scheme
    if not scheme or scheme.lower() in PREFERRED:
        return  # always known: asking MLflow's artifact registry would import mlflow on every models:/ verify
    known = known_schemes()
    if scheme.lower() in known:
        return
    close = difflib.get_close_matches(scheme.lower(), known, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}:'?" if close else "."
    raise ResolveError(
        f"Unknown URI scheme '{scheme}:'{hint} ({redact(uri)})",
        (f"Use {redact(uri.replace(scheme + ':', close[0] + ':', 1))}. " if close else "")
        + "A model URI is a local directory, file:..., runs:/<run_id>/<path>, models:/<name>/<version>, "
          "models:/<name>@<alias> or models:/m-<model id>; artifact URIs may use " + ", ".join(f"{s}:" for s in known[3:]) + ".",
    )


def close_names(name: str, names: list[str], n: int = 3) -> list[str]:
    """The registered names closest to `name` (case-insensitive), best first."""
    lowered = {candidate.lower(): candidate for candidate in names}
    return [lowered[m] for m in difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.5)]


def registered_hint(name: str, list_names: Callable[[], list[str]]) -> str:
    """A sentence for an unknown model name: the close names there are, or how many models the registry has."""
    try:
        names = list_names()
    except Exception:  # the hint is a courtesy: a registry that cannot list keeps the plain message
        return ""
    if name in names:
        return ""
    close = close_names(name, names)
    if close:
        return " Registered models with a close name: " + ", ".join(repr(c) for c in close) + "."
    return f" The registry has {len(names)} registered model(s), none named like {name!r}." if names else " The registry has no registered model."
