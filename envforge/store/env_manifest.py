"""An env's manifest, `.envforge-manifest.json`: every file its installers installed, with its size and sha256.

Written once at build (building/cached_envs.py, after the backend's build, before the state marker), read on every reuse
by store/env_check.py. The hashes come from the installers' own `*.dist-info/RECORD` files (pip, uv, virtualenv's
seed packages and the pip-installed part of a conda env all write one): a file is hashed here only when its RECORD
row has no hash (RECORD itself, INSTALLER) or a size that is not the file's (an installer rewrote it after
recording). Bytecode (`.pyc`) is left out: Python rewrites it, and a stale one is recompiled from its source.

Docker envs have no manifest: the env is an image whose id (a digest of its content) the backend's health check
already compares with the id recorded at build (backends/docker health_check). A conda package that wrote no
RECORD is not covered (its files are in conda-meta, with prefix-rewritten contents).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import stat
from pathlib import Path

MANIFEST = ".envforge-manifest.json"
VERSION = 1
_CHUNK = 1 << 20


def manifest_path(env_dir: Path) -> Path:
    return env_dir / MANIFEST


def file_sha256(path: Path) -> str:
    """The file's sha256 as hex, read in chunks (never the whole file in memory)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def record_files(env_dir: Path) -> list[Path]:
    """Every installer RECORD under the env (any site-packages layout: lib/pythonX.Y, Lib, conda's)."""
    found: list[Path] = []
    for root, dirs, _files in os.walk(env_dir):
        keep = []
        for name in dirs:
            if name.endswith(".dist-info"):
                record = Path(root) / name / "RECORD"
                if record.is_file():
                    found.append(record)
            elif name not in ("__pycache__", "conda-meta", "pkgs", "include", "share") and not name.startswith("."):
                keep.append(name)
        dirs[:] = [] if os.path.basename(root) in ("site-packages", "dist-packages") else keep  # RECORDs sit right there
    return sorted(found)


def build_manifest(env_dir: Path) -> list[list[object]]:
    """[[path relative to env_dir, size, sha256 hex], ...] of every file a RECORD lists and that exists."""
    env = os.path.normpath(env_dir)
    start = len(env) + len(os.sep)
    entries: dict[str, list[object]] = {}
    for record in record_files(env_dir):
        site = record.parent.parent
        for row in _rows(record):
            path = os.path.normpath(os.path.join(site, row[0]))
            if path.endswith(".pyc") or not path.startswith(env + os.sep):
                continue  # bytecode, or a file outside the env (an absolute path in a RECORD)
            relative = path[start:]  # inside env (checked above), both normalized: what os.path.relpath says, ~10x cheaper
            if relative in entries:
                continue
            try:
                info = os.lstat(path)
            except OSError:
                continue  # listed but not installed here (optional files)
            if not stat.S_ISREG(info.st_mode):
                continue  # a symbolic link (it may point out of the env) or a directory
            size = info.st_size
            recorded = _hex(row[1] if len(row) > 1 else "")
            same_size = len(row) > 2 and row[2].strip().isdigit() and int(row[2]) == size
            entries[relative] = [relative, size, recorded if recorded and same_size else file_sha256(Path(path))]
    return sorted(entries.values(), key=lambda e: str(e[0]))


def write_manifest(env_dir: Path) -> int:
    """Write the manifest of a freshly built env; the number of files it lists."""
    files = build_manifest(env_dir)
    tmp = env_dir / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps({"version": VERSION, "files": files}, separators=(",", ":")))
    os.replace(tmp, manifest_path(env_dir))
    return len(files)


def read_manifest(env_dir: Path) -> list[list[object]] | None:
    """The files of the env's manifest, or None when it has none (built before manifests, or a docker env)."""
    try:
        data = json.loads(manifest_path(env_dir).read_text())
    except (OSError, ValueError):
        return None
    files = data.get("files") if isinstance(data, dict) and data.get("version") == VERSION else None
    return files if isinstance(files, list) else None


def _rows(record: Path) -> list[list[str]]:
    try:
        with record.open(newline="", encoding="utf-8") as handle:
            return [row for row in csv.reader(handle) if row and row[0]]
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def _hex(recorded: str) -> str | None:
    """RECORD's `sha256=<urlsafe base64, unpadded>` as hex; None for another algorithm or none."""
    algorithm, _, value = recorded.partition("=")
    if algorithm != "sha256" or not value:
        return None
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex()
    except (ValueError, TypeError):
        return None
