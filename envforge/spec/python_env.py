"""python_env.yaml: the Python version, build dependencies and dependency lines."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from envforge.errors import ModelDirError
from envforge.spec.yamlfile import read_mapping


@dataclass(frozen=True)
class PythonEnv:
    python: str | None
    build_dependencies: tuple[str, ...]
    dependencies: tuple[str, ...]


def read_python_env(path: Path) -> PythonEnv:
    data = read_mapping(path, "python_env.yaml")
    python = data.get("python")
    if isinstance(python, float):  # YAML reads an unquoted `python: 3.10` as the float 3.1: take it as written
        python = _as_written(path) or python
    return PythonEnv(
        python=None if python is None else str(python),
        build_dependencies=_str_list(data.get("build_dependencies"), path, "build_dependencies"),
        dependencies=_str_list(data.get("dependencies"), path, "dependencies"),
    )


_PYTHON_LINE = re.compile(r"^python:[ \t]*([0-9]+\.[0-9]+(?:\.[0-9]+)?)[ \t]*(?:#.*)?$", re.M)


def _as_written(path: Path) -> str | None:
    """The version on the file's top-level `python:` line, as its characters (the file was size-checked when read)."""
    found = _PYTHON_LINE.search(path.read_text(encoding="utf-8", errors="replace"))
    return found.group(1) if found else None


def _str_list(value: object, path: Path, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise ModelDirError(f"{path}: `{key}` should be a list of strings.", f"Fix or re-log {path.name}.")
    return tuple(str(v) for v in value)
