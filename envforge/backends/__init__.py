"""Backends by name: each module satisfies envforge.backends.base.Backend."""

from __future__ import annotations

from envforge.backends.base import Backend
from envforge.errors import UsageError

NAMES = ("uv", "virtualenv", "conda", "docker")


def get_backend(name: str) -> Backend:
    if name == "uv":
        from envforge.backends.uv import UvBackend

        return UvBackend()
    if name == "virtualenv":
        from envforge.backends.virtualenv import VirtualenvBackend

        return VirtualenvBackend()
    if name == "conda":
        from envforge.backends.conda import CondaBackend

        return CondaBackend()
    if name == "docker":
        from envforge.backends.docker import DockerBackend

        return DockerBackend()
    raise UsageError(f"Unknown backend {name!r}.", f"Choose one of: {', '.join(NAMES)}.")
