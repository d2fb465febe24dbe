"""Where envforge keeps its state: $ENVFORGE_HOME, else the platform's user cache dir."""

from __future__ import annotations

import os
from pathlib import Path


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
