"""The shared corpus of real models (read-only): $ENVFORGE_CORPUS, or found beside the repository, or beside the
directory of worktrees a checkout may live in; copied into a test's temp dir before use. The one place that
knows where it is: every test that reads the corpus imports CORPUS from here."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]
_CANDIDATES = [Path(os.environ["ENVFORGE_CORPUS"])] if os.environ.get("ENVFORGE_CORPUS") else \
    [_ROOT.parent / "shared" / "corpus", _ROOT.parents[1] / "shared" / "corpus"]
CORPUS = next((p for p in _CANDIDATES if p.is_dir()), _CANDIDATES[0])
MISSING = f"the shared corpus is not at {CORPUS}: set ENVFORGE_CORPUS to the directory of real model directories"


def corpus_copy(name: str, root: Path) -> Path:
    """A writable copy of corpus model `name` under `root`."""
    model = Path(shutil.copytree(CORPUS / name, root / name))
    for path in [model, *model.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return model


# The platforms corpus (Databricks-logged models, code/ folders, MLeap-only): kept apart from CORPUS.
CORPUS_PLATFORMS = Path(os.environ["ENVFORGE_CORPUS_PLATFORMS"]) if os.environ.get("ENVFORGE_CORPUS_PLATFORMS") else \
    next((p for p in (CORPUS.parent / "corpus-platforms", _ROOT.parent / "shared" / "corpus-platforms") if p.is_dir()),
         CORPUS.parent / "corpus-platforms")


def platforms_copy(name: str, root: Path) -> Path:
    """A writable copy of corpus-platforms model `name` under `root`."""
    model = Path(shutil.copytree(CORPUS_PLATFORMS / name, root / name))
    for path in [model, *model.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return model
