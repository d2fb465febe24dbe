"""The non-Python dependency list the Databricks guide asks users to log as an artifact.

MLflow does not capture Java, native libraries or R; the guide suggests logging a list of them as a `.txt`
or `.json` artifact and installing them where the model is served. envforge reads such a file under the
model's `artifacts/` (or its top level) when no `apt.txt`/`system_requirements.txt` is there:
`non_python_dependencies`, `system_dependencies` or `dependencies`, `.txt` (names, `#` comments) or `.json`
(a list of names, or an object whose `apt`, `system`, `packages` or `system_packages` key holds the list).
Names go through spec/system.py's package-name check: they become package-manager arguments in an image.
"""

from __future__ import annotations

import json
from pathlib import Path

from envforge.bounds import limits
from envforge.errors import ModelDirError
from envforge.spec.paths import inside

STEMS = ("non_python_dependencies", "system_dependencies", "dependencies")
KEYS = ("apt", "system", "packages", "system_packages")


def find_dependency_list(model_dir: Path) -> str | None:
    for folder in ("artifacts", ""):
        for stem in STEMS:
            for suffix in (".json", ".txt"):
                relative = f"{folder}/{stem}{suffix}" if folder else f"{stem}{suffix}"
                if inside(model_dir, relative, f"the dependency list {relative!r}").is_file():
                    return relative
    return None


def read_dependency_list(model_dir: Path) -> tuple[list[str], str | None]:
    """(the words it lists, in order, unchecked; the file), ([], None) without one."""
    relative = find_dependency_list(model_dir)
    if relative is None:
        return [], None
    text = limits.read_bounded(inside(model_dir, relative, relative), "text", where=relative)
    if relative.endswith(".txt"):
        return [w for line in text.splitlines() for w in line.split("#", 1)[0].split()], relative
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ModelDirError(f"{relative} is not JSON ({exc}).", "Log the dependency list as a JSON list of apt package names.") from None
    if isinstance(data, dict):
        data = next((data[k] for k in KEYS if isinstance(data.get(k), list)), [])
    if not isinstance(data, list) or not all(isinstance(x, str) for x in data):
        raise ModelDirError(f"{relative}: expected a list of package names (or an object with an `apt` list).",
                            'Log it as e.g. ["libgomp1", "openjdk-17-jre-headless"] or {"apt": [...]}.')
    return list(data), relative
