"""Backends by name. The list is spec/backend_catalog.py; each module satisfies backends.base.Backend."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from envforge.spec.backend_catalog import DEFAULT, NAMES, REGISTRY, entry

if TYPE_CHECKING:
    from envforge.backends.base import Backend

__all__ = ["DEFAULT", "NAMES", "REGISTRY", "get_backend"]


def get_backend(name: str) -> Backend:
    found = entry(name)
    backend: Backend = getattr(importlib.import_module(found.module), found.cls)()
    return backend
