"""The installer executables envforge drives, found once: uv, from its PyPI package (a dependency of envforge)."""

from __future__ import annotations

import threading

_lock = threading.Lock()
_uv: str | None = None


def uv_bin() -> str:
    """uv's executable. Looked up once, under a lock: the registry's groups ask from several threads at once, and
    uv.find_uv_bin reads sysconfig, whose first read is not thread-safe before CPython 3.12 (gh-92452: a thread
    can see a config var as None, and find_uv_bin then raises TypeError)."""
    global _uv
    with _lock:
        if _uv is None:
            import uv

            _uv = str(uv.find_uv_bin())
        return _uv
