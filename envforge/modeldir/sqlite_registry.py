"""What a local SQLite registry says about models:/NAME/N, read with sqlite3, read-only, in milliseconds.

The download cache asks the registry which run or logged model a cached registered version is before serving it
(a store recreated at the same path reuses version numbers: modeldir/resolve.py). Through MLflow's client that costs
`import mlflow` and a SQLAlchemy store open: seconds, on every warm verify, before the model starts. For a SQLite
store the answer is one row of `model_versions`, the row MLflow's own `get_model_version` reads (same name, same
version, not internally deleted, the default workspace), so it is read here directly.

Anything this reader does not know for certain (another store, workspaces switched on, a schema without the columns,
a database it cannot open, no such row) answers None, and the caller asks MLflow as before: never a guess. The file is
opened read-only (`mode=ro`): envforge never writes, creates or migrates a tracking store.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from urllib.parse import quote

from envforge.modeldir.sqlite_store import sqlite_path

_DELETED = "Deleted_Internal"  # MLflow's STAGE_DELETED_INTERNAL: a deleted version's row, which get_model_version skips
_DEFAULT_WORKSPACE = "default"  # MLflow's DEFAULT_WORKSPACE_NAME: a single-tenant store's only workspace
# Set, any of these makes MLflow pick the workspace (or the store) by rules this reader does not repeat.
_WORKSPACE_VARIABLES = ("MLFLOW_ENABLE_WORKSPACES", "MLFLOW_WORKSPACE", "MLFLOW_WORKSPACE_STORE_URI")
_BUSY_TIMEOUT = 5.0  # seconds to wait on a writer's lock (another process logging to the store)


@dataclass(frozen=True)
class VersionRow:
    """The fields of MLflow's ModelVersion the download cache compares, as that store holds them."""

    run_id: str | None
    source: str | None
    creation_time: int | None
    model_id: str | None = None  # MLflow's SQL store leaves a ModelVersion's model_id unset too


def open_read_only(tracking: str) -> sqlite3.Connection | None:
    """The SQLite store `tracking` opened read-only, where this module's readers may answer for MLflow (a SQLite
    file that exists, no workspace variable set); None otherwise. The caller closes it."""
    path = sqlite_path(tracking)
    if path is None or not path.is_file() or any(os.environ.get(v) for v in _WORKSPACE_VARIABLES):
        return None
    try:
        return sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=_BUSY_TIMEOUT)
    except sqlite3.Error:
        return None


def model_version(tracking: str, name: str, version: str) -> VersionRow | None:
    """The registry's row for NAME/VERSION in the SQLite store `tracking`; None when it must be asked through MLflow."""
    if not version.isdigit():
        return None
    number = int(version)
    conn = open_read_only(tracking)
    if conn is None:
        return None
    try:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(model_versions)")}
        if not {"name", "version", "current_stage", "source", "run_id", "creation_time"} <= columns:
            return None  # not an MLflow registry this reader knows
        where = "name = ? AND version = ? AND current_stage != ?"  # MLflow's own conditions, NULL stage included
        params: list[object] = [name, number, _DELETED]
        if "workspace" in columns:
            where += " AND workspace = ?"
            params.append(_DEFAULT_WORKSPACE)
        rows = conn.execute(f"SELECT run_id, source, creation_time FROM model_versions WHERE {where}", params).fetchall()
    except sqlite3.Error:  # locked past the timeout, not a database, a table missing: MLflow says what is wrong
        return None
    finally:
        conn.close()
    if len(rows) != 1:
        return None  # no such version (MLflow's error names it), or a store MLflow would call inconsistent
    run_id, source, created = rows[0]
    return VersionRow(run_id=run_id, source=source, creation_time=created)


def alias_version(tracking: str, name: str, alias: str) -> str | None:
    """The version NAME@ALIAS points at in the SQLite store `tracking` (a version that is there, not deleted); None when
    MLflow must answer ('latest' is MLflow's own rule, an unknown alias MLflow's error)."""
    conn = None if alias.lower() == "latest" else open_read_only(tracking)
    if conn is None:
        return None
    try:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(registered_model_aliases)")}
        if not {"name", "alias", "version"} <= columns:
            return None
        where = "name = ? AND alias = ?" + (" AND workspace = ?" if "workspace" in columns else "")
        params = [name, alias] + ([_DEFAULT_WORKSPACE] if "workspace" in columns else [])
        rows = conn.execute(f"SELECT version FROM registered_model_aliases WHERE {where}", params).fetchall()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    if len(rows) != 1 or not isinstance(rows[0][0], int):
        return None
    version = str(rows[0][0])
    return version if model_version(tracking, name, version) is not None else None


def artifact_store(tracking: str, meta: dict[str, str | None]) -> str | None:
    """Where the run or logged model `meta` names keeps its artifacts (MLflow's get_run(...).info.artifact_uri or
    get_logged_model(...).artifact_location), read from the SQLite store `tracking`; None when MLflow must be asked."""
    table, column, where, value = (("logged_models", "artifact_location", "model_id", meta.get("model_id")) if meta.get("model_id")
                                   else ("runs", "artifact_uri", "run_uuid", meta.get("run_id")))
    conn = open_read_only(tracking) if value else None
    if conn is None:
        return None
    try:
        if not {column, where} <= {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
            return None
        rows = conn.execute(f"SELECT {column} FROM {table} WHERE {where} = ?", [value]).fetchall()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return str(rows[0][0]) if len(rows) == 1 and isinstance(rows[0][0], str) else None
