"""The download cache's own digests: what was downloaded, file by file, so that a cached model is
checked on reuse instead of trusted as it lies on disk.

After a download every file's sha256, size and mtime are kept in the cache's marker. On reuse the files
are listed and stat'ed (cheap); a file whose size or mtime differs is hashed in full, and with
`check` (verify --check) every file is. Any difference (a file changed, added or gone), or a marker
written before digests were kept, sends the model to be downloaded again, and the reason is reported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from envforge.modeldir.digests import artifact_files, digest_dir, file_sha256

MARKER = ".envforge-download.json"  # the cache's record of a download, beside its model/ directory (modeldir/resolve.py)


def entries(model_dir: Path) -> dict[str, dict[str, Any]]:
    """{relative path: {"sha256", "size", "mtime_ns"}} of every file of a fresh download."""
    out = {}
    for rel, path in artifact_files(model_dir, everything=True).items():
        stat = path.stat()
        out[rel] = {"sha256": file_sha256(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    return out


def stored(marker: Path) -> dict[str, dict[str, Any]] | None:
    """The entries kept in the marker, or None (no marker, or one written before digests were kept)."""
    try:
        files = json.loads(marker.read_text()).get("files")
    except (OSError, ValueError, AttributeError):
        return None
    return files if isinstance(files, dict) else None


def cached_entries(model_dir: Path) -> dict[str, dict[str, Any]] | None:
    """The entries kept for a model directory of the download cache (None for any other directory)."""
    return stored(model_dir.parent / MARKER)


def current(model_dir: Path, cached: bool) -> dict[str, dict[str, Any]]:
    """The model's artifact digests now (modeldir/digests.py); for a cached download the cache's entries stand
    for files whose size and mtime are unchanged since they were checked or downloaded."""
    return digest_dir(model_dir, cached_entries(model_dir) if cached else None)


def adopt(model_dir: Path, path: Path) -> None:
    """A file envforge stored with the model on the server (record's expectations, its lock) and left in a cached
    download as the server now has it: it joins the cache's entries, so that the next reuse does not take it for an
    altered download and download the model again. Not a cached download (no marker with entries): nothing."""
    from envforge.modeldir.access import write_private

    marker = model_dir.parent / MARKER
    try:
        data = json.loads(marker.read_text())
    except (OSError, ValueError):
        return
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        return
    stat = path.stat()
    data["files"][path.relative_to(model_dir).as_posix()] = {"sha256": file_sha256(path), "size": stat.st_size,
                                                             "mtime_ns": stat.st_mtime_ns}
    write_private(marker, json.dumps(data))


def altered(model_dir: Path, marker: Path, check: bool) -> str | None:
    """None when the cached download is what was downloaded; otherwise why it is not, in a few words."""
    kept = stored(marker)
    if kept is None:
        return "the cached download has no digests (it was cached by an older envforge)"
    present = artifact_files(model_dir, everything=True)
    gone, added = sorted(set(kept) - set(present)), sorted(set(present) - set(kept))
    if gone:
        return f"{gone[0]} is missing from the cached download" + (f" (and {len(gone) - 1} more)" if len(gone) > 1 else "")
    if added:
        return f"{added[0]} was added to the cached download" + (f" (and {len(added) - 1} more)" if len(added) > 1 else "")
    for rel, path in present.items():
        want = kept[rel]
        stat = path.stat()
        same_stat = stat.st_size == want.get("size") and stat.st_mtime_ns == want.get("mtime_ns")
        if (check or not same_stat) and file_sha256(path) != want.get("sha256"):
            return f"{rel} of the cached download was altered on disk (sha256 differs from the one downloaded)"
    return None


__all__ = ["MARKER", "adopt", "altered", "cached_entries", "current", "entries", "stored"]
