"""The ELF reads of an env's shared objects, kept beside the env so that a reused env is not parsed again.

backends/native_libs.py reads every `.so` of an env after each build *and* on each reuse: hundreds of files (seconds
of one core with pyelftools; ~0.1 s with backends/elf_dynamic.py's `struct` reader), before the model starts, for
files that have not changed since the env was built. Each read (DT_NEEDED, RPATH/RUNPATH) is kept in `.envforge-elf.json` in the env, keyed by
the file's path, size and mtime (as the download cache checks its files: modeldir/download_digests.py), and read
again only when those differ. What the machine provides (`ldconfig -p`, LD_LIBRARY_PATH) is never kept: it is looked
up on every call, so a library installed or removed since is seen at once. An unreadable or unwritable cache is
the same as none: every file is read.

A new env of the same packages (a cold verify, a rebuild) has new paths but, where uv hardlinks from its cache, the
very same files: each read is also kept machine-wide in `$ENVFORGE_HOME/elf-reads.json`, keyed by the file's device,
inode, size and mtime, so those files are not parsed again either (358 objects of an iris model's env: 0.55 s).
A copied file (another filesystem than uv's cache) has a new inode and is read once per env, as before.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

CACHE = ".envforge-elf.json"
SHARED = "elf-reads.json"
SHARED_MAX = 50_000  # entries (~100 bytes each); past it the store starts again from this call's reads
VERSION = 1
Read = tuple[list[str], list[str]] | None


def read_all(env_path: Path, objects: list[Path], read: Callable[[Path], Read]) -> dict[Path, Read]:
    """`read(path)` for every object, from the cache where the file's size and mtime are the ones recorded."""
    kept, shared = _load(env_path), _load_file(_shared_path())
    out: dict[Path, Read] = {}
    fresh: dict[str, list[object]] = {}
    learned: dict[str, list[object]] = {}
    for path in objects:
        try:
            stat = path.stat()
        except OSError:
            out[path] = None
            continue
        rel, key = os.path.relpath(path, env_path), [stat.st_size, stat.st_mtime_ns]
        inode = f"{stat.st_dev}-{stat.st_ino}"
        entry = kept.get(rel)
        entry = entry if _valid(entry, key) else shared.get(inode)
        if _valid(entry, key):
            value = entry[2]  # type: ignore[index]
            out[path] = (list(value[0]), list(value[1])) if isinstance(value, list) and len(value) == 2 else None
        else:
            out[path] = read(path)
        fresh[rel] = [*key, [out[path][0], out[path][1]] if out[path] is not None else None]
        if shared.get(inode) != fresh[rel]:
            learned[inode] = fresh[rel]
    if fresh != kept:
        _save(env_path / CACHE, fresh)
    if learned:
        _save(_shared_path(), learned if len(shared) + len(learned) > SHARED_MAX else {**shared, **learned})
    return out


def _valid(entry: object, key: list[int]) -> bool:
    return isinstance(entry, list) and len(entry) == 3 and entry[:2] == key


def _shared_path() -> Path:
    from envforge.store.layout import home

    return home() / SHARED


def _load(env_path: Path) -> dict[str, object]:
    return _load_file(env_path / CACHE)


def _load_file(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) and data.get("version") == VERSION else None
    return files if isinstance(files, dict) else {}


def _save(path: Path, files: dict[str, list[object]]) -> None:
    """Written whole and renamed into place: a reader in another process sees the old cache or the new one
    (two writers at once: one's new reads are lost, and read again next time)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".envforge-elf-", dir=path.parent)
        with os.fdopen(fd, "w") as handle:
            json.dump({"version": VERSION, "files": files}, handle)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except (OSError, UnboundLocalError):
            pass
