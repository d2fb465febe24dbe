"""python_env.yaml: the Python version, build dependencies and dependency lines."""

from __future__ import annotations

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
    return PythonEnv(
        python=None if python is None else str(python),
        build_dependencies=_str_list(data.get("build_dependencies"), path, "build_dependencies"),
        dependencies=_str_list(data.get("dependencies"), path, "dependencies"),
    )


def _str_list(value: object, path: Path, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise ModelDirError(f"{path}: `{key}` should be a list of strings.", f"Fix or re-log {path.name}.")
    return tuple(str(v) for v in value)
