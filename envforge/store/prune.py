"""`envforge cache list` and `envforge cache prune`: the built envs under $ENVFORGE_HOME/envs.

Prune never removes an env another envforge process is working with: it takes the env's
per-key build lock and its "in use" lock without waiting (envforge.store.filelocks) and skips the env
when either is held. The state marker goes first, so an interrupted removal leaves a directory
that get_env treats as an unfinished build (wiped and rebuilt), never as a usable env.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envforge.errors import UsageError
from envforge.store.envs import MARKER, lock_name
from envforge.store.filelocks import try_locked, try_unused
from envforge.store.layout import envs_dir
from envforge.store.usage import last_used, models

_DURATION = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_SIZE = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


@dataclass(frozen=True)
class CachedEnv:
    path: Path
    key: str
    backend: str
    python: str | None
    size: int
    last_used: float
    models: tuple[str, ...]
    complete: bool

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "path": str(self.path), "backend": self.backend, "python": self.python,
                "size": self.size, "last_used": self.last_used, "models": list(self.models), "complete": self.complete}


@dataclass
class Pruned:
    removed: list[CachedEnv] = field(default_factory=list)
    in_use: list[CachedEnv] = field(default_factory=list)
    kept: list[CachedEnv] = field(default_factory=list)
    dry_run: bool = False

    @property
    def freed(self) -> int:
        return sum(e.size for e in self.removed)

    def to_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "freed": self.freed, "removed": [e.to_dict() for e in self.removed],
                "in_use": [e.to_dict() for e in self.in_use], "kept": [e.to_dict() for e in self.kept]}


def list_envs() -> list[CachedEnv]:
    """Every env directory, most recently used first (unfinished builds included)."""
    root = envs_dir()
    if not root.is_dir():
        return []
    found = [_describe(d) for d in root.iterdir() if d.is_dir() and not d.is_symlink() and not d.name.startswith(".")]
    return sorted(found, key=lambda e: -e.last_used)


def prune(*, older_than: float | None = None, max_size: int | None = None, everything: bool = False,
          dry_run: bool = False, now: float | None = None) -> Pruned:
    """Remove envs unused for `older_than` seconds, then the least recently used ones until the
    cache fits in `max_size` bytes (or all of them with `everything`), skipping envs in use."""
    if older_than is None and max_size is None and not everything:
        raise UsageError("Nothing to prune by.", "Pass --older-than (e.g. 14d), --max-size (e.g. 5G), or --all.")
    now = time.time() if now is None else now
    result = Pruned(dry_run=dry_run)
    remaining = []
    for env in sorted(list_envs(), key=lambda e: e.last_used):  # oldest first
        stale = everything or (older_than is not None and now - env.last_used > older_than)
        if not (stale and _remove(env, result, dry_run)):
            remaining.append(env)
    total = sum(e.size for e in remaining if e not in result.in_use)
    for env in list(remaining):
        if max_size is None or total <= max_size:
            break
        if env in result.in_use:
            continue
        if _remove(env, result, dry_run):
            remaining.remove(env)
            total -= env.size
    result.kept = [e for e in remaining if e not in result.in_use]
    return result


def _remove(env: CachedEnv, result: Pruned, dry_run: bool) -> bool:
    with try_locked(lock_name(env.key)) as free, try_unused(lock_name(env.key)) as unused:
        if not (free and unused):
            if env not in result.in_use:
                result.in_use.append(env)
            return False
        if not dry_run:
            _backend_cleanup(env)
            (env.path / MARKER).unlink(missing_ok=True)
            shutil.rmtree(env.path, ignore_errors=True)
        result.removed.append(env)
        return True


def _backend_cleanup(env: CachedEnv) -> None:
    """A backend that keeps something outside the env directory (an image) may offer
    `remove(env_dir)`; it is called before the directory goes. Best effort."""
    from envforge.backends import get_backend

    try:
        remove = getattr(get_backend(env.backend), "remove", None)
        if callable(remove):
            remove(env.path)
    except Exception:  # a cleanup failure must not stop the prune
        pass


def _describe(path: Path) -> CachedEnv:
    try:
        state = json.loads((path / MARKER).read_text())
    except (OSError, ValueError):
        state = None
    state = state if isinstance(state, dict) else {}
    backend, _, short_key = path.name.rpartition("-")
    built_at = state.get("built_at")
    return CachedEnv(
        path=path, key=str(state.get("key") or short_key), backend=str(state.get("backend") or backend or "?"),
        python=state.get("python_version"), size=dir_size(path),
        last_used=last_used(path, float(built_at) if isinstance(built_at, (int, float)) else None),
        models=tuple(models(path)), complete=bool(state.get("key")),
    )


def dir_size(path: Path) -> int:
    """Bytes of the files under `path`, each hardlinked inode once (symlinks not followed)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total


def parse_duration(text: str) -> float:
    """"14d", "12h", "30m", "90s", "2w" -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text.lower())
    if not match:
        raise UsageError(f"{text!r} is not a duration.", "Use a number and a unit: s, m, h, d or w (e.g. 14d, 12h).")
    return float(match.group(1)) * _DURATION[match.group(2)]


def parse_size(text: str) -> int:
    """"5G", "500M", "1.5GiB", "2048" -> bytes (K, M, G, T are powers of 1024)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", text.lower())
    if not match:
        raise UsageError(f"{text!r} is not a size.", "Use a number with an optional unit K, M, G or T (e.g. 5G, 500M).")
    return int(float(match.group(1)) * _SIZE[match.group(2)])


def human_size(size: float) -> str:
    for unit in ("B", "K", "M", "G"):
        if size < 1024:
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.1f}{unit}"
        size /= 1024
    return f"{size:.1f}T"


def human_age(seconds: float) -> str:
    for unit, length in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= length:
            return f"{seconds / length:.0f} {unit} ago"
    return "just now"
