"""Wheels shipped inside the model: code_paths wheels under code/, WheeledModel's under wheels/."""

from __future__ import annotations

import hashlib
from pathlib import Path

from envforge.bounds.limits import walk_files
from envforge.spec.paths import inside


def find_wheels(model_dir: Path, folder: str) -> dict[str, Path]:
    """"./folder/x.whl" -> absolute path, for every wheel under `folder` (recursively), sorted."""
    root = model_dir / folder
    if not root.is_dir():
        return {}
    found: dict[str, Path] = {}
    for path in sorted(p for p in walk_files(root, f"{folder}/ in the model directory") if p.name.endswith(".whl")):
        real = inside(model_dir, str(path), f"the wheel {path.relative_to(model_dir)}")
        found["./" + path.relative_to(model_dir).as_posix()] = real
    return found


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
