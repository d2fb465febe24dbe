"""Refuse a model directory whose symlinks lead out of it, before anything runs.

A model file that is a link to /etc/passwd (or ~/.aws/credentials) would be read by the model's loader
as if it were the model's own. Links inside the directory are fine. DVC and git-annex keep a model's
files as links into their cache, outside the directory: --allow-outside-links accepts those.
"""

from __future__ import annotations

import os
from pathlib import Path

from envforge.bounds.limits import MODEL_FILES
from envforge.errors import ModelDirError


def check_links(model_dir: Path, allow_outside: bool = False) -> None:
    """Raise ModelDirError (exit 2) naming the first link that points outside `model_dir`."""
    if allow_outside:
        return
    root = model_dir.resolve()
    seen = 0
    for dirpath, dirnames, filenames in os.walk(root):
        seen += len(dirnames) + len(filenames)
        MODEL_FILES.check(seen, f"the model directory {root}")  # a million files: refused, not walked for minutes
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            if not path.is_symlink():
                continue
            target = Path(os.path.realpath(path))
            if target != root and root not in target.parents:
                raise ModelDirError(
                    f"{path.relative_to(root)} in the model directory is a symlink to {os.readlink(path)} "
                    f"({target}), outside the model directory: envforge would let the model read it.",
                    "Replace the link by the file itself; if the model is kept by DVC or git-annex (files linked "
                    "into their cache), pass --allow-outside-links.")
