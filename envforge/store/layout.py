"""The layout of envforge's store, in one place: $ENVFORGE_HOME (else the platform's user cache dir) holds

    envs/<backend>-<key[:24]>/   a built env; its state marker (store/marker.py) is written last
    models/<digest>/             downloaded model artifacts (modeldir/resolve.py)
    locks/env-<key[:24]>.lock    the per-key build lock; .use: the shared "in use" lock (store/filelocks.py)
    bytecode/cpython-X.Y.Z/      .pyc files shared between envs (store/bytecode.py); $ENVFORGE_BYTECODE_DIR moves it
    shared/, resolutions/        which keys use another key's env: identical resolutions (building/same_resolution.py)

Everything else builds these paths by calling the functions here, and reads an env directory's name
back with `parse_env_dir`.
"""

from __future__ import annotations

import os
from pathlib import Path

KEY_CHARS = 24  # of EnvSpec.key (sha256 hex) in directory and lock names


def home() -> Path:
    explicit = os.environ.get("ENVFORGE_HOME")
    if explicit:
        return Path(explicit).expanduser().resolve()
    import platformdirs

    return Path(platformdirs.user_cache_dir("envforge", appauthor=False))


def envs_dir() -> Path:
    return home() / "envs"


def models_dir() -> Path:
    return home() / "models"


def locks_dir() -> Path:
    return home() / "locks"


def bytecode_dir(name: str) -> Path:
    """The bytecode store of one CPython: under $ENVFORGE_BYTECODE_DIR when set, which lets several homes on one
    machine (CI jobs, each with an ENVFORGE_HOME of its own, sharing uv's cache) share compiled .pyc files."""
    explicit = os.environ.get("ENVFORGE_BYTECODE_DIR")
    return (Path(explicit).expanduser().resolve() if explicit else home() / "bytecode") / name


def env_dir(backend: str, key: str) -> Path:
    """Where the env of this backend and EnvSpec.key lives."""
    return envs_dir() / f"{backend}-{key[:KEY_CHARS]}"


def parse_env_dir(path: Path) -> tuple[str, str]:
    """(backend, short key) from an env directory's name: env_dir's inverse."""
    backend, _, short_key = path.name.rpartition("-")
    return backend, short_key


def env_lock_name(key: str) -> str:
    """The name of the per-key lock held while an env is built, checked, used or removed (store/filelocks.py)."""
    return f"env-{key[:KEY_CHARS]}"
