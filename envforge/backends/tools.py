"""The installer executables envforge drives, found once: uv, from its PyPI package (a dependency of envforge)."""

from __future__ import annotations


def uv_bin() -> str:
    import uv

    return str(uv.find_uv_bin())
