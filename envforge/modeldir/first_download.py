"""MLflow made ready once, by one thread, before a registry run's parallel downloads use it.

A registry run downloads up to 8 versions at once (registry/plan.py). When nothing before them imported MLflow (a
SQLite registry is listed without it: registry/sqlite_listing.py), each of the 8 threads would reach `import
mlflow.artifacts` and then open its own SQLAlchemy registry store at the same moment (the store is cached only once
one is made): 8 engines and 8 schema checks under one GIL, seconds each. So the first download of a tracking URI
imports MLflow and opens its registry store (MLflow's client, one registry call) while the others wait for it; every
later download finds both ready. Only a download pays this: a run whose versions are all cached never imports MLflow.
"""

from __future__ import annotations

import threading

_LOCK = threading.Lock()
_READY: set[str] = set()


def ready(tracking: str, name: str | None) -> None:
    """MLflow imported and the registry store of `tracking` open (name: a registered model, for the one call)."""
    if tracking in _READY:
        return
    with _LOCK:
        if tracking in _READY:
            return
        import mlflow.artifacts  # noqa: F401  (what the download uses next)
        from mlflow.tracking import MlflowClient

        if name:
            try:
                MlflowClient(tracking_uri=tracking, registry_uri=tracking).get_registered_model(name)
            except Exception:  # noqa: BLE001 - only a warm-up: the download itself says what is wrong
                pass
        _READY.add(tracking)
