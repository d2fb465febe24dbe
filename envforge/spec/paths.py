"""Paths named inside model files stay inside the model directory."""

from __future__ import annotations

from pathlib import Path

from envforge.errors import ModelDirError


def inside(model_dir: Path, relative: str, what: str) -> Path:
    """Resolve `relative` against model_dir (following symlinks); refuse anything outside it."""
    root = model_dir.resolve()
    if "\x00" in relative:
        raise ModelDirError(f"{what} names a path with a NUL byte: {relative!r}.", "Fix the model's files or re-log it.")
    too_long = [part for part in Path(relative).parts if len(part.encode("utf-8", "surrogatepass")) > 255]
    if too_long or len(relative) + len(str(root)) >= 4096:  # the OS refuses it (ENAMETOOLONG), which pathlib's is_file() does not catch
        raise ModelDirError(f"{what} names a path too long for any file system ({len(relative):,} characters, "
                            f"starting {relative[:60]!r}).", "Fix the model's files or re-log it.")
    candidate = Path(relative)
    target = (candidate if candidate.is_absolute() else root / candidate).resolve()
    if target != root and root not in target.parents:
        raise ModelDirError(
            f"{what} points outside the model directory: {relative!r}.",
            "envforge only uses files inside the model directory; fix the model's files or re-log it.",
        )
    return target
