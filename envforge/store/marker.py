"""An env's state marker, `.envforge-state.json`: written last, atomically, after a build succeeded, so a
directory without a valid one is an interrupted build. This module is its only reader and its only writer."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

MARKER = ".envforge-state.json"


def read_marker(env_dir: Path) -> dict[str, Any] | None:
    """The state of a finished build, or None: missing, unreadable, or not a finished build's state."""
    try:
        data = json.loads((env_dir / MARKER).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("key"), str) or not data["key"]:
        return None
    return data


def write_marker(env_dir: Path, state: dict[str, Any]) -> None:
    tmp = env_dir / (MARKER + ".tmp")
    with tmp.open("w") as handle:
        json.dump(state, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, env_dir / MARKER)


def remove_marker(env_dir: Path) -> None:
    """First step of removing an env: without its marker the directory is an unfinished build, never reused."""
    (env_dir / MARKER).unlink(missing_ok=True)
