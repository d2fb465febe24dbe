"""Reading a small YAML file from an untrusted model directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from envforge.bounds.limits import read_bounded
from envforge.bounds.parsing import load_yaml
from envforge.errors import ModelDirError


def read_yaml(path: Path, what: str) -> Any:
    """Parse `path` with yaml.safe_load; any problem is a ModelDirError naming the file."""
    import yaml

    text = read_bounded(path, "yaml", where=f"{what} at {path}")  # size and UTF-8 checked, shape next (issue 17)
    try:
        return load_yaml(text, f"{what} at {path}")
    except yaml.YAMLError as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelDirError(f"{what} at {path} is not valid YAML ({detail}).", f"Fix or re-log {path.name}.") from None


def read_mapping(path: Path, what: str) -> dict[str, Any]:
    data = read_yaml(path, what)
    if not isinstance(data, dict):
        raise ModelDirError(
            f"{what} at {path} is a YAML {type(data).__name__}, not a mapping.",
            f"Fix or re-log {path.name}; it should hold keys such as those MLflow writes.",
        )
    return data
