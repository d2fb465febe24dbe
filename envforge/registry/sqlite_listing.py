"""verify-registry's listing of a local SQLite registry, read with sqlite3, read-only, without importing MLflow.

Through MLflow's client the listing costs `import mlflow` and a SQLAlchemy store open (seconds, before anything else
of the run can start: issue 33), and one call per registered model. For a SQLite store the answer is three tables,
read here with the conditions MLflow's SQL store applies (modeldir/sqlite_registry.py reads one version the same way):
registered models of the default workspace; their versions not internally deleted; their aliases.

Anything this reader does not know for certain gives None, and registry/select.py asks MLflow as before: another
store, workspaces switched on, a schema without these tables or columns, a database it cannot open, or a registry
holding prompts (MLflow lists registered models without them; which rows are prompts is MLflow's own rule).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from envforge.modeldir.sqlite_registry import _DEFAULT_WORKSPACE, _DELETED, open_read_only

_PROMPT_TAG = "mlflow.prompt.is_prompt"  # MLflow's IS_PROMPT_TAG_KEY


@dataclass
class Listed:
    """One registered model: its version numbers (ascending) and {version: its aliases}."""

    name: str
    versions: list[int] = field(default_factory=list)
    aliases: dict[str, list[str]] = field(default_factory=dict)


def listing(tracking: str) -> dict[str, Listed] | None:
    """{name: Listed} for every registered model of the SQLite store `tracking`; None when MLflow must be asked."""
    conn = open_read_only(tracking)
    if conn is None:
        return None
    try:
        return _read(conn)
    except sqlite3.Error:  # locked past the timeout, not a database: MLflow says what is wrong
        return None
    finally:
        conn.close()


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def _read(conn: sqlite3.Connection) -> dict[str, Listed] | None:
    tables = {t: _columns(conn, t) for t in ("registered_models", "model_versions", "registered_model_aliases",
                                             "registered_model_tags")}
    needed = {"registered_models": {"name"}, "model_versions": {"name", "version", "current_stage"},
              "registered_model_aliases": {"name", "alias", "version"}, "registered_model_tags": {"name", "key"}}
    if any(not needed[t] <= cols for t, cols in tables.items()):
        return None  # not a registry this reader knows
    if conn.execute("SELECT 1 FROM registered_model_tags WHERE key = ? LIMIT 1", [_PROMPT_TAG]).fetchall():
        return None

    def scope(table: str, where: str = "") -> tuple[str, list[object]]:
        if "workspace" not in tables[table]:
            return where, []
        return (f"{where} AND workspace = ?" if where else "workspace = ?"), [_DEFAULT_WORKSPACE]

    where, params = scope("registered_models")
    found = {str(name): Listed(str(name)) for (name,) in
             conn.execute(f"SELECT name FROM registered_models{' WHERE ' + where if where else ''}", params)}
    where, params = scope("model_versions", "current_stage != ?")  # MLflow's own condition, NULL stage included
    for name, version in conn.execute(f"SELECT name, version FROM model_versions WHERE {where} ORDER BY name, version",
                                      [_DELETED, *params]):
        if name in found and isinstance(version, int):
            found[name].versions.append(version)
    where, params = scope("registered_model_aliases")
    for name, alias, version in conn.execute(
            f"SELECT name, alias, version FROM registered_model_aliases{' WHERE ' + where if where else ''}", params):
        if name in found and isinstance(version, int):
            found[name].aliases.setdefault(str(version), []).append(str(alias))
    return found
