"""Per-key file locks shared by every envforge process on this machine."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from envforge.errors import EnvBuildError
from envforge.home import locks_dir


@contextlib.contextmanager
def locked(name: str, *, timeout: float = 3600.0, on_wait: object = None) -> Iterator[None]:
    """Hold the lock `name` (a cache key); waits for another process holding it."""
    import filelock

    directory = locks_dir()
    directory.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(Path(directory) / f"{name}.lock"))
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        if callable(on_wait):
            on_wait()
        try:
            lock.acquire(timeout=timeout)
        except filelock.Timeout:
            raise EnvBuildError(
                f"Another envforge process has held the lock {name!r} for over {timeout:.0f} s.",
                "Wait for it to finish, or stop it if it is stuck; the lock is released when its process exits.",
            ) from None
    try:
        yield
    finally:
        lock.release()
