"""Reading a small YAML file from an untrusted model directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from envforge.errors import ModelDirError

MAX_BYTES = 5 * 1024 * 1024


def read_yaml(path: Path, what: str) -> Any:
    """Parse `path` with yaml.safe_load; any problem is a ModelDirError naming the file."""
    import yaml

    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ModelDirError(f"Cannot read {what} at {path}: {exc.strerror}.", "Check the model directory's files.") from None
    if size > MAX_BYTES:
        raise ModelDirError(
            f"{what} at {path} is {size / 1e6:.1f} MB, far larger than any real {what} file.",
            "The model directory is corrupt or hostile; re-log the model.",
        )
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
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
