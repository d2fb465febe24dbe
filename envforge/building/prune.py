"""The built envs under $ENVFORGE_HOME/envs: listed, and pruned (`envforge cache list` / `cache prune`).

Prune never removes an env another envforge process is working with: it takes the env's
per-key build lock and its "in use" lock without waiting (envforge.store.filelocks) and skips the env
when either is held. The env's backend removes what the env owns outside its directory first (the
docker backend's image), then the state marker goes, so an interrupted removal leaves a directory
that get_env treats as an unfinished build (wiped and rebuilt), never as a usable env.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envforge.building import same_resolution
from envforge.errors import UsageError
from envforge.store.disk_usage import DiskUsage
from envforge.store.filelocks import try_locked, try_unused
from envforge.store.layout import env_lock_name, envs_dir, parse_env_dir
from envforge.store.marker import read_marker, remove_marker
from envforge.store.usage import last_used, models


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
    shared_by: tuple[str, ...] = ()  # keys of other specs that resolve to this env's packages (building/same_resolution.py)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "path": str(self.path), "backend": self.backend, "python": self.python,
                "size": self.size, "last_used": self.last_used, "models": list(self.models), "complete": self.complete,
                "shared_by": list(self.shared_by)}


@dataclass
class Pruned:
    removed: list[CachedEnv] = field(default_factory=list)
    in_use: list[CachedEnv] = field(default_factory=list)
    kept: list[CachedEnv] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def freed(self) -> int:
        return sum(e.size for e in self.removed)

    def to_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "freed": self.freed, "removed": [e.to_dict() for e in self.removed],
                "in_use": [e.to_dict() for e in self.in_use], "kept": [e.to_dict() for e in self.kept], "warnings": self.warnings}


def list_envs() -> list[CachedEnv]:
    """Every env directory, most recently used first (unfinished builds included)."""
    root = envs_dir()
    if not root.is_dir():
        return []
    dirs = [d for d in root.iterdir() if d.is_dir() and not d.is_symlink() and not d.name.startswith(".")]
    usage = DiskUsage()  # each file once across the cache, the most recently used env first (store/disk_usage.py)
    dirs.sort(key=lambda d: -last_used(d, _built_at(d)))
    sharing = same_resolution.sharing()
    return [_describe(d, usage, sharing) for d in dirs]


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
    total = sum(e.size for e in remaining)  # the cache on disk: an env in use counts, though it cannot go
    for env in list(remaining):
        if max_size is None or total <= max_size:
            break
        if env in result.in_use:
            continue
        if _remove(env, result, dry_run):
            remaining.remove(env)
            total -= env.size
    if max_size is not None and total > max_size and result.in_use:
        result.warnings.append(f"the cache still holds {total / 1024**2:.0f} MiB, over the limit: {len(result.in_use)} env(s) "
                               "in use by another envforge process cannot be removed now; prune again when they are done")
    result.kept = [e for e in remaining if e not in result.in_use]
    return result


def _remove(env: CachedEnv, result: Pruned, dry_run: bool) -> bool:
    with try_locked(env_lock_name(env.key)) as free, try_unused(env_lock_name(env.key)) as unused:
        if not (free and unused):
            if env not in result.in_use:
                result.in_use.append(env)
            return False
        if not dry_run:
            problem = _backend_cleanup(env)
            if problem:
                result.warnings.append(f"{env.path.name}: {problem}")
            remove_marker(env.path)
            shutil.rmtree(env.path, ignore_errors=True)
        result.removed.append(env)
        return True


def _backend_cleanup(env: CachedEnv) -> str | None:
    """The backend's `remove` hook (what the env owns outside its directory); why it failed, if it did."""
    from envforge.backends import get_backend
    from envforge.errors import EnvforgeError

    try:
        get_backend(env.backend).remove(env.path)
    except EnvforgeError as exc:  # e.g. an engine that is down: the directory still goes, the reason is reported
        return exc.message.splitlines()[0]
    return None


def _built_at(path: Path) -> float | None:
    built_at = (read_marker(path) or {}).get("built_at")
    return float(built_at) if isinstance(built_at, (int, float)) else None


def _describe(path: Path, usage: DiskUsage, sharing: dict[str, list[str]]) -> CachedEnv:
    state = read_marker(path) or {}
    backend, short_key = parse_env_dir(path)
    key = str(state.get("key") or short_key)
    return CachedEnv(
        path=path, key=str(state.get("key") or short_key), backend=str(state.get("backend") or backend or "?"),
        python=state.get("python_version"), size=usage.of(path),
        last_used=last_used(path, _built_at(path)),
        models=tuple(models(path)), complete=bool(state.get("key")), shared_by=tuple(sharing.get(key, ())),
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
