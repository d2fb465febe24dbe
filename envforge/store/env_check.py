"""Check a cached env against its manifest (store/env_manifest.py) before it is reused.

By default cheaply: every listed file must exist with its recorded size (one stat per file, no reads).
`check=True` (`--check`) hashes every file and compares its sha256. What is wrong is said in one line that
names the first files (building/cached_envs.py rebuilds the env and the report carries the line), so that a verdict
never blames the model for an env that lost or changed files after it was built.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from envforge.store.env_manifest import file_sha256, read_manifest

_NAMED = 3  # files named in the reason


def damage(env_dir: Path, *, check: bool = False) -> str | None:
    """None when the env still has every file of its manifest as built (or has no manifest), else why not."""
    files = read_manifest(env_dir)
    if not files:
        return None
    missing: list[str] = []
    changed: list[str] = []
    to_hash: list[tuple[str, str]] = []
    base = str(env_dir) + os.sep
    for entry in files:
        relative, size, digest = str(entry[0]), entry[1], entry[2]
        path = base + relative
        try:
            stat = os.stat(path)
        except OSError:
            missing.append(relative)
            continue
        if stat.st_size != size:
            changed.append(relative)
        elif check and digest:
            to_hash.append((relative, str(digest)))
    changed += _hashes_differ(base, to_hash)
    if not missing and not changed:
        return None
    parts = []
    if missing:
        parts.append(f"{len(missing)} file(s) missing ({_names(missing)})")
    if changed:
        how = "size or sha256" if check else "size"
        parts.append(f"{len(changed)} file(s) changed ({how} differs: {_names(changed)})")
    return "the cached environment differs from what its build installed: " + "; ".join(parts)


def _hashes_differ(base: str, files: list[tuple[str, str]]) -> list[str]:
    """The files whose sha256 is not the recorded one, hashed on every core (hashlib releases the GIL)."""
    if not files:
        return []
    from concurrent.futures import ThreadPoolExecutor

    def differs(item: tuple[str, str]) -> bool:
        try:
            return file_sha256(Path(base + item[0])) != item[1]
        except OSError:
            return True

    with ThreadPoolExecutor(max_workers=max(1, min(8, os.cpu_count() or 1))) as pool:
        flags = list(pool.map(differs, files, chunksize=64))
    return [relative for (relative, _), bad in zip(files, flags, strict=True) if bad]


def _names(paths: list[str]) -> str:
    more = f" and {len(paths) - _NAMED} more" if len(paths) > _NAMED else ""
    return ", ".join(paths[:_NAMED]) + more


def discard(env_dir: Path, backend: Any, why: str, log: Callable[[str], None]) -> str:
    """Remove a damaged env the way `cache prune` removes one (the backend's own cleanup, then the marker, so
    that the directory is an unfinished build from now on); the caller rebuilds it. Returns `why`."""
    from envforge.errors import EnvforgeError
    from envforge.store.marker import remove_marker

    log(f"{why}; rebuilding")
    try:
        backend.remove(env_dir)
    except EnvforgeError:
        pass  # what it owns outside its directory stays; the directory is rebuilt all the same
    remove_marker(env_dir)
    return why


def confirm_rebuilt(env_dir: Path, why: str) -> None:
    """After a rebuild for damage: every file hashed once. uv (and pip's wheel cache) link or copy files from a
    package cache, so a file changed in place may be changed there too, and the rebuild brings it back."""
    from envforge.errors import EnvBuildError

    still = damage(env_dir, check=True)
    if still:
        raise EnvBuildError(
            f"The cached environment was rebuilt ({why}), but the rebuilt one differs from its installers' records "
            f"too: {still.split(': ', 1)[-1]}. The package cache the installer links or copies files from holds the damaged files.",
            "Clean the package's entry in the installer's cache (`uv cache clean PACKAGE`, or `pip cache purge` for the "
            "virtualenv backend) and verify again.")
