"""The sha256 of every artifact file of a model directory: what `record` stores with its expectations, what
`verify` checks the downloaded model against before building anything, what an attestation's subjects are.

Each file is hashed in 1 MiB chunks (a multi-GB model is never held in memory). The result is a plain,
stable dict {relative POSIX path: {"sha256": hex, "size": bytes}}, sorted by path. envforge's own files
next to the model (the expectations, the stored lock) and MLflow's download-time metadata are not
artifacts: they are written after the model was logged and would differ between two copies of it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHUNK = 1 << 20
# Written next to the model after it was logged: not the model's bytes.
NOT_ARTIFACTS = frozenset({
    "envforge-expectations.json",  # modeldir/expectations.py FILENAME
    "envforge-lock.txt",           # spec/envlock.py LOCK_FILENAME
    "registered_model_meta",       # MLflow adds it when downloading a models:/ URI
})


def file_sha256(path: Path | str) -> str:
    """The file's sha256 as lowercase hex, read in CHUNK-sized pieces."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def artifact_files(model_dir: Path, everything: bool = False) -> dict[str, Path]:
    """{relative POSIX path: path} of the model's artifact files (`everything`: envforge's own files too), sorted;
    directories are walked without following directory symlinks (modeldir/links.py has judged where links point)."""
    found: dict[str, Path] = {}
    for root, dirs, files in os.walk(model_dir):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in files:
            path = Path(root) / name
            rel = path.relative_to(model_dir).as_posix()
            if (not everything and (rel in NOT_ARTIFACTS or name.endswith(".pyc"))) or not path.is_file():
                continue
            found[rel] = path
    return dict(sorted(found.items()))


def digest_dir(model_dir: Path, known: dict[str, dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """{relative path: {"sha256", "size"}} of every artifact file. `known` (the download cache's entries,
    {path: {"sha256", "size", "mtime_ns"}}) is trusted for a file whose size and mtime are unchanged."""
    out: dict[str, dict[str, Any]] = {}
    for rel, path in artifact_files(model_dir).items():
        stat = path.stat()
        seen = (known or {}).get(rel)
        if seen and seen.get("size") == stat.st_size and seen.get("mtime_ns") == stat.st_mtime_ns and seen.get("sha256"):
            out[rel] = {"sha256": seen["sha256"], "size": stat.st_size}
        else:
            out[rel] = {"sha256": file_sha256(path), "size": stat.st_size}
    return out


@dataclass(frozen=True)
class Change:
    """One artifact file that is not as recorded: changed, missing (recorded, not there) or added."""

    path: str
    kind: str                 # "changed" | "missing" | "added"
    recorded: str | None      # the recorded sha256 (None: added)
    actual: str | None        # the sha256 found now (None: missing)

    def describe(self) -> str:
        if self.kind == "missing":
            return f"{self.path} is missing (recorded sha256 {self.recorded})"
        if self.kind == "added":
            return f"{self.path} was added (sha256 {self.actual}, not recorded)"
        return f"{self.path} changed (recorded sha256 {self.recorded}, now {self.actual})"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "change": self.kind, "recorded_sha256": self.recorded, "actual_sha256": self.actual}


def changes(recorded: dict[str, dict[str, Any]], actual: dict[str, dict[str, Any]]) -> list[Change]:
    """Every file whose sha256 differs, that is recorded and gone, or that is there and not recorded; by path."""
    out = []
    for path in sorted(set(recorded) | set(actual)):
        want, have = recorded.get(path), actual.get(path)
        if want is None:
            out.append(Change(path, "added", None, (have or {}).get("sha256")))
        elif have is None:
            out.append(Change(path, "missing", want.get("sha256"), None))
        elif want.get("sha256") != have.get("sha256"):
            out.append(Change(path, "changed", want.get("sha256"), have.get("sha256")))
    return out


def summary(found: list[Change], limit: int = 5) -> str:
    """The changes in one sentence, the first `limit` named with both digests."""
    shown = "; ".join(c.describe() for c in found[:limit])
    more = f"; and {len(found) - limit} more" if len(found) > limit else ""
    return shown + more


def valid(value: Any) -> bool:
    """Whether `value` has the shape digest_dir returns (for a stored copy read back from a file)."""
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, dict) and isinstance(v.get("sha256"), str) and len(v["sha256"]) == 64
        for k, v in value.items())


__all__ = ["CHUNK", "NOT_ARTIFACTS", "Change", "artifact_files", "changes", "digest_dir", "file_sha256", "summary", "valid"]
