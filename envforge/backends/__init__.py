"""Backends by name: each module satisfies envforge.backends.base.Backend."""

from __future__ import annotations

from envforge.backends.base import Backend
from envforge.errors import UsageError

NAMES = ("uv",)


def get_backend(name: str) -> Backend:
    if name == "uv":
        from envforge.backends.uv import UvBackend

        return UvBackend()
    raise UsageError(f"Unknown backend {name!r}.", f"Choose one of: {', '.join(NAMES)}.")
