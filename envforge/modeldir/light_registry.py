"""The registry's answer about a registered version without importing MLflow, where it can be had exactly.

A SQLite store is read with sqlite3 (modeldir/sqlite_registry.py), an http(s) tracking server asked with one REST call
(modeldir/rest_registry.py); every other store, and whatever those two cannot answer for certain, gives None and the
caller (modeldir/resolve.py) asks MLflow's client. The download cache's identity check is the same either way.
"""

from __future__ import annotations

from urllib.parse import urlparse

from envforge.modeldir import sqlite_registry
from envforge.modeldir.sqlite_registry import VersionRow


def _over_http(tracking: str) -> bool:
    return urlparse(tracking).scheme in ("http", "https")


def model_version(tracking: str, name: str, version: str) -> VersionRow | None:
    if _over_http(tracking):
        from envforge.modeldir import rest_registry  # its urllib.request imports ssl and email: only for a server

        return rest_registry.model_version(tracking, name, version)
    return sqlite_registry.model_version(tracking, name, version)


def alias_version(tracking: str, name: str, alias: str) -> str | None:
    if _over_http(tracking):
        from envforge.modeldir import rest_registry

        return rest_registry.alias_version(tracking, name, alias)
    return sqlite_registry.alias_version(tracking, name, alias)
