"""When a cached env was last used and by which models, for `envforge cache list/prune`.

Kept cheap because it is written on every use: the mtime of a touched file, and a short JSON
list of model URIs (most recent last) rewritten atomically under the env's per-key lock.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from envforge.errors import EnvforgeError
from envforge.redact import redact
from envforge.store.filelocks import locked

USED = ".envforge-used"
MODELS = ".envforge-models.json"
MAX_MODELS = 20


def note_use(env_dir: Path, key: str, uri: str, *more: str) -> None:
    """Record that `uri` (and `more`: a registry group's other models) used the env now. Best effort: bookkeeping
    never fails a command."""
    from envforge.store.layout import env_lock_name

    try:
        with locked(env_lock_name(key), timeout=30):
            (env_dir / USED).touch()
            os.utime(env_dir / USED)
            entries = list(dict.fromkeys(redact(u) for u in (uri, *more)))
            known = [m for m in models(env_dir) if m not in entries] + entries
            tmp = env_dir / (MODELS + ".tmp")
            tmp.write_text(json.dumps(known[-MAX_MODELS:]))
            os.replace(tmp, env_dir / MODELS)
    except (OSError, EnvforgeError):
        pass


def models(env_dir: Path) -> list[str]:
    try:
        data = json.loads((env_dir / MODELS).read_text())
    except (OSError, ValueError):
        return []
    return [str(m) for m in data] if isinstance(data, list) else []


def last_used(env_dir: Path, built_at: float | None = None) -> float:
    """The last time a command used the env: the used file's mtime (touched on every use,
    the build included), else the build time, else the directory's mtime."""
    try:
        return (env_dir / USED).stat().st_mtime
    except OSError:
        pass
    if built_at:
        return built_at
    try:
        return env_dir.stat().st_mtime
    except OSError:
        return 0.0
