"""Backends by name. The list is backends/registry.py; each module satisfies backends.base.Backend."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from envforge.backends.registry import DEFAULT, NAMES, REGISTRY
from envforge.errors import UsageError

if TYPE_CHECKING:
    from envforge.backends.base import Backend

__all__ = ["DEFAULT", "NAMES", "REGISTRY", "get_backend"]


def get_backend(name: str) -> Backend:
    found = REGISTRY.get(name)
    if found is None:
        raise UsageError(f"Unknown backend {name!r}.", f"Choose one of: {', '.join(NAMES)}.")
    backend: Backend = getattr(importlib.import_module(found.module), found.cls)()
    return backend
