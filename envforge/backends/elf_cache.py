"""The ELF reads of an env's shared objects, kept beside the env so that a reused env is not parsed again.

backends/native_libs.py reads every `.so` of an env (pyelftools, pure Python) after each build *and* on each reuse:
hundreds of files, seconds of one core on a warm verify, before the model starts, for files that have not changed
since the env was built. Each read (DT_NEEDED, RPATH/RUNPATH) is kept in `.envforge-elf.json` in the env, keyed by
the file's path, size and mtime (as the download cache checks its files: modeldir/download_digests.py), and read
again only when those differ. What the machine provides (`ldconfig -p`, LD_LIBRARY_PATH) is never kept: it is looked
up on every call, so a library installed or removed since is seen at once. An unreadable or unwritable cache is
the same as none: every file is read.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

CACHE = ".envforge-elf.json"
VERSION = 1
Read = tuple[list[str], list[str]] | None


def read_all(env_path: Path, objects: list[Path], read: Callable[[Path], Read]) -> dict[Path, Read]:
    """`read(path)` for every object, from the cache where the file's size and mtime are the ones recorded."""
    kept = _load(env_path)
    out: dict[Path, Read] = {}
    fresh: dict[str, list[object]] = {}
    for path in objects:
        try:
            stat = path.stat()
        except OSError:
            out[path] = None
            continue
        rel, key = os.path.relpath(path, env_path), [stat.st_size, stat.st_mtime_ns]
        entry = kept.get(rel)
        if isinstance(entry, list) and len(entry) == 3 and entry[:2] == key:
            value = entry[2]
            out[path] = (list(value[0]), list(value[1])) if isinstance(value, list) and len(value) == 2 else None
        else:
            out[path] = read(path)
        fresh[rel] = [*key, [out[path][0], out[path][1]] if out[path] is not None else None]
    if fresh != kept:
        _save(env_path, fresh)
    return out


def _load(env_path: Path) -> dict[str, object]:
    try:
        data = json.loads((env_path / CACHE).read_text())
    except (OSError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) and data.get("version") == VERSION else None
    return files if isinstance(files, dict) else {}


def _save(env_path: Path, files: dict[str, list[object]]) -> None:
    """Written whole and renamed into place: a reader in another process sees the old cache or the new one."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".envforge-elf-", dir=env_path)
        with os.fdopen(fd, "w") as handle:
            json.dump({"version": VERSION, "files": files}, handle)
        os.replace(tmp, env_path / CACHE)
    except OSError:
        try:
            os.unlink(tmp)
        except (OSError, UnboundLocalError):
            pass
