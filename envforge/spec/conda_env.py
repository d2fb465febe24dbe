"""conda.yaml: the Python pin, conda dependencies and the pip section (old models have only this)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from envforge.errors import ModelDirError
from envforge.spec.yamlfile import read_mapping

_PYTHON_PIN = re.compile(r"^python\s*[=<>!~]*=?\s*(?P<version>[0-9][0-9.*]*)")
_NAME = re.compile(r"[A-Za-z0-9_.:\-]+")
_BUILD_TOOLS = {"pip", "setuptools", "wheel"}


@dataclass(frozen=True)
class CondaEnv:
    channels: tuple[str, ...]
    python: str | None
    conda_dependencies: tuple[str, ...]  # without python itself
    pip: tuple[str, ...]
    specs: tuple[str, ...] = ()  # every conda spec as written (python, pip and channel::name included)


def read_conda_env(path: Path) -> CondaEnv:
    data = read_mapping(path, "conda.yaml")
    deps = data.get("dependencies") or []
    if not isinstance(deps, list):
        raise ModelDirError(f"{path}: `dependencies` should be a list.", f"Fix or re-log {path.name}.")
    python: str | None = None
    conda: list[str] = []
    pip: list[str] = []
    specs: list[str] = []
    for dep in deps:
        if isinstance(dep, dict) and "pip" in dep:
            items = dep["pip"] or []
            if not isinstance(items, list):
                raise ModelDirError(f"{path}: the `pip` section should be a list.", f"Fix or re-log {path.name}.")
            pip += [str(i) for i in items]
        elif isinstance(dep, (str, int, float)):
            text = str(dep).strip()
            specs.append(text)
            name = _NAME.match(text)
            base = name.group(0).split("::")[-1].lower() if name else text
            if base == "python":
                match = _PYTHON_PIN.match(text.split("::")[-1])
                python = match.group("version").rstrip(".*") if match else python
            elif base not in _BUILD_TOOLS:
                conda.append(text)
    channels = data.get("channels") or []
    return CondaEnv(
        channels=tuple(str(c) for c in channels) if isinstance(channels, list) else (),
        python=python,
        conda_dependencies=tuple(conda),
        pip=tuple(pip),
        specs=tuple(specs),
    )
