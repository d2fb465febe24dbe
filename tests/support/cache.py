"""Expensive test set-up cached between runs on one machine, outside the repository.

`cached_dir(name, build)` returns ~/.cache/envforge-tests/<name> (or $ENVFORGE_TEST_CACHE/<name>),
calling build(path) first when it is missing or incomplete. A marker written last says the build
finished; a file lock makes concurrent test runs build once; an interrupted build is wiped and redone.
Put everything the content depends on (versions, script hashes) into `name`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

MARKER = ".envforge-tests-complete"


def cache_root() -> Path:
    return Path(os.environ.get("ENVFORGE_TEST_CACHE") or Path.home() / ".cache" / "envforge-tests")


def digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


def cached_dir(name: str, build: Callable[[Path], None], *, timeout: float = 1800) -> Path:
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    path = root / name
    with FileLock(str(root / f"{name}.lock"), timeout=timeout):
        if (path / MARKER).is_file():
            return path
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        try:
            build(path)
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
        (path / MARKER).write_text("complete\n")
    return path
