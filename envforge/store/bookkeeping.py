"""The small JSON records beside the cache that only save work (kept resolutions, shared envs, the sandbox probe):
written whole and renamed into place, best effort. Unreadable or unwritable, each is simply none: the work it
would have saved is done again, never a failed run."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def read_record(path: Path) -> Any:
    """The record's JSON, or None (missing, unreadable, not JSON)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_record(path: Path, data: Any) -> bool:
    """Write the record atomically (a reader sees the old one or the new one); True when written."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass
        return False
    return True
