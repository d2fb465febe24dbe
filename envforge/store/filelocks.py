"""Per-key file locks shared by every envforge process on this machine."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from envforge.errors import EnvBuildError
from envforge.store.layout import locks_dir


@contextlib.contextmanager
def locked(name: str, *, timeout: float = 3600.0, on_wait: object = None) -> Iterator[None]:
    """Hold the lock `name` (a cache key); waits for another process holding it."""
    with _exclusive(name) as held:
        if not held:
            if callable(on_wait):
                on_wait()
            with _exclusive(name, timeout) as held:
                if not held:
                    raise EnvBuildError(
                        f"Another envforge process has held the lock {name!r} for over {timeout:.0f} s.",
                        "Wait for it to finish, or stop it if it is stuck; the lock is released when its process exits.",
                    )
                yield
                return
        yield


@contextlib.contextmanager
def try_locked(name: str) -> Iterator[bool]:
    """Take the lock `name` only if nobody holds it (never waits): yields True when it was taken."""
    with _exclusive(name) as held:
        yield held


_POLL = 0.05  # seconds between two tries of a held lock (as filelock's default)


@contextlib.contextmanager
def _exclusive(name: str, timeout: float = 0.0) -> Iterator[bool]:
    """flock(LOCK_EX) on `name`.lock, tried until `timeout`: yields whether it is held (released at the end).
    fcntl directly, as `using` below: importing filelock (which imports asyncio) cost a warm verify 40-85 ms.
    Where there is no fcntl (Windows), filelock does it."""
    directory = locks_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = Path(directory) / f"{name}.lock"
    try:
        import fcntl
    except ImportError:
        import filelock

        lock = filelock.FileLock(str(path))
        try:
            lock.acquire(timeout=timeout)
        except filelock.Timeout:
            yield False
            return
        try:
            yield True
        finally:
            lock.release()
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(_POLL)
        yield True  # closing the descriptor releases the lock
    finally:
        os.close(fd)


@contextlib.contextmanager
def using(name: str) -> Iterator[None]:
    """Mark `name` as in use by this process: a shared lock that many processes may hold at once
    (a shell, a run, a verify); `try_unused` fails while any of them holds it. No-op without fcntl."""
    with _use_file(name) as handle:
        if handle is not None:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
        yield


@contextlib.contextmanager
def try_unused(name: str) -> Iterator[bool]:
    """Exclusively hold the use lock of `name` if no process is using it (never waits)."""
    with _use_file(name) as handle:
        if handle is None:
            yield True
            return
        import fcntl

        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True


@contextlib.contextmanager
def _use_file(name: str) -> Iterator[IO[bytes] | None]:
    try:
        import fcntl  # noqa: F401
    except ImportError:  # Windows: no shared locks; in-use protection is off there
        yield None
        return
    directory = locks_dir()
    directory.mkdir(parents=True, exist_ok=True)
    with open(Path(directory) / f"{name}.use", "a+b") as handle:  # closing the file releases the lock
        yield handle
