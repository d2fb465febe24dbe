"""Whether a backend can run here, said before anything is downloaded, with the fix.

A backend whose packages are missing (`--backend conda` without the conda extra) used to fail after the model was
downloaded, with no `fix:` line; the Docker engine was first asked for after the download too."""

from __future__ import annotations

from envforge.backends import get_backend
from envforge.backends.base import Backend
from envforge.errors import EnvBuildError

# What installs each backend's packages (its extra), as the fix for a backend that is not available.
_REMEDIES = {
    "conda": "Install envforge with the conda extra: pip install 'envforge-mlflow[conda]' (or pass --backend uv).",
    "docker": "Install envforge with the docker extra: pip install 'envforge-mlflow[docker]' (or pass --backend uv).",
}
_DEFAULT_REMEDY = "Reinstall envforge (pip install --force-reinstall envforge-mlflow), or pass another --backend."


def unavailable_error(backend: Backend) -> EnvBuildError | None:
    """The error for a backend that cannot run here (its `available()` reason and the fix), or None."""
    why = backend.available()
    if not why:
        return None
    return EnvBuildError(f"The {backend.name} backend cannot run here: {why}", _REMEDIES.get(backend.name, _DEFAULT_REMEDY))


def check_before_work(name: str) -> None:
    """Raise EnvBuildError now (exit 3) when backend `name` cannot build here: its packages, and an engine it needs."""
    backend = get_backend(name)
    error = unavailable_error(backend)
    if error is not None:
        raise error
    check_engine = getattr(backend, "check_engine", None)  # a backend that needs an engine (docker) asks it now
    if check_engine is not None:
        check_engine()
