"""The cache's sizes as `du` counts them: bytes on disk (allocated blocks), each inode once across the whole cache.

uv links package files from its cache into every env it builds, so one file is often in several envs. Counted once
per env, "3 env(s), 1.9G" was 799 MB on disk and `cache prune --max-size` removed envs it did not need to. One
DiskUsage is shared by a listing: an env's size is what it holds that no env listed before it (the more recently
used ones) holds, so the sizes add up to `du -sc` of the env directories, and the least recently used env's size is
about what removing it frees."""

from __future__ import annotations

import os
from pathlib import Path


class DiskUsage:
    def __init__(self) -> None:
        self._seen: set[tuple[int, int]] = set()

    def of(self, path: Path) -> int:
        """Bytes on disk under `path` (itself, directories, files, symlinks, not followed) not counted before."""
        total = self._count(str(path))
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                total += self._count(os.path.join(root, name))
        return total

    def _count(self, path: str) -> int:
        try:
            st = os.lstat(path)
        except OSError:
            return 0
        inode = (st.st_dev, st.st_ino)
        if inode in self._seen:
            return 0
        self._seen.add(inode)
        return st.st_blocks * 512
