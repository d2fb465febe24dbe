"""The shared corpus of real models (read-only): found beside the repository, or beside the
directory of worktrees a checkout may live in; copied into a test's temp dir before use."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]
CORPUS = next((p for p in (_ROOT.parent / "shared" / "corpus", _ROOT.parents[1] / "shared" / "corpus") if p.is_dir()),
              _ROOT.parent / "shared" / "corpus")


def corpus_copy(name: str, root: Path) -> Path:
    """A writable copy of corpus model `name` under `root`."""
    model = Path(shutil.copytree(CORPUS / name, root / name))
    for path in [model, *model.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return model
