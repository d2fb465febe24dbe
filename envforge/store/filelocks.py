"""Per-key file locks shared by every envforge process on this machine."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from envforge.errors import EnvBuildError
from envforge.store.layout import locks_dir


@contextlib.contextmanager
def locked(name: str, *, timeout: float = 3600.0, on_wait: object = None) -> Iterator[None]:
    """Hold the lock `name` (a cache key); waits for another process holding it."""
    import filelock

    lock = _file_lock(name)
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


def _file_lock(name: str) -> Any:
    """The filelock.FileLock for `name` in the locks directory (created if missing)."""
    import filelock

    directory = locks_dir()
    directory.mkdir(parents=True, exist_ok=True)
    return filelock.FileLock(str(Path(directory) / f"{name}.lock"))


@contextlib.contextmanager
def try_locked(name: str) -> Iterator[bool]:
    """Take the lock `name` only if nobody holds it (never waits): yields True when it was taken."""
    import filelock

    lock = _file_lock(name)
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


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
