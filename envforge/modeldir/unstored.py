"""A file `record` could not store on the server never stays in the download cache (issue 31).

The download cache mirrors the server and nothing else: expectations left there after a refused upload made a later
`verify` in the same ENVFORGE_HOME pass against a file no one else can see, while a fresh home said UNVERIFIED. The
file is moved to ENVFORGE_HOME/unstored/, named in the error, to be passed explicitly (--expected / --lock).
"""

from __future__ import annotations

import os
from pathlib import Path

from envforge.errors import UsageError
from envforge.modeldir.access import explain
from envforge.store.layout import home, models_dir


def not_stored(local: Path, tracking: str | None, exc: BaseException, option: str) -> UsageError:
    """The error for an upload of `local` that failed with `exc`; moves `local` out of the download cache first."""
    kept = _out_of_cache(local)
    where = f"The file was kept at {kept} (not in the download cache, which only mirrors the server); pass it to verify with {option} {kept}."
    known = explain(exc, f"store {local.name} with the model", tracking or "")
    if known:
        return UsageError(known.message, f"{known.remedy} {where}")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    from envforge.redact import redact

    return UsageError(f"Could not store {local.name} with the model: {redact(first)}", where)


def _out_of_cache(local: Path) -> Path:
    try:
        relative = local.resolve().relative_to(models_dir().resolve())
    except ValueError:
        return local  # a local model directory: the user's own file, where they put the model
    target = home() / "unstored" / relative.parts[0] / local.name
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(local, target)
    return target


ORIGINS = {"server": "stored with the model on the tracking server", "local": "in the local model directory",
           "file": "a file given with --expected", "unstored": "a file given with --expected that the server never got"}


def origin(source: str, model_dir: str | None) -> str:
    """Where a verdict's expectations came from: `server` (the download cache's mirror of the server, or a
    models:/ runs:/ ... URI), `local` (the user's own model directory), `file` (--expected FILE), `unstored`
    (--expected naming a file kept in ENVFORGE_HOME/unstored after the server refused it)."""
    path = Path(source)
    if not path.exists() and ":" in source and not path.drive:
        return "server"
    real = path.resolve()
    if real.is_relative_to(models_dir().resolve()):
        return "server"
    if real.is_relative_to((home() / "unstored").resolve()) or real.parent.parent.name == "unstored":
        return "unstored"  # this home's, or another ENVFORGE_HOME's (its layout: unstored/<model>/<file>)
    if model_dir and real.is_relative_to(Path(model_dir).resolve()):
        return "local"
    return "file"
