"""Resolutions that can no longer change, remembered: a rebuild installs them without asking the index again.

A uv build resolves the model's requirements as of a moment (`--exclude-newer`, backends/cutoff.py). Once that
moment has passed, the index's answer for it is fixed: nothing uploaded later counts. Asking again costs a
revalidation request per package (measured: `uv pip install` of a 50-package set from a warm cache takes 1.05 s
online, 0.17 s with `--offline`), on every new env of that spec: a cold verify, a rebuild after `cache prune`,
each machine of a CI fleet sharing ENVFORGE_HOME's parent caches.

So after a build whose cutoff had passed (by MARGIN) before it resolved, the exact set it installed is kept:

    settled/<digest>.json   {"moment", "resolved_at", "python", "pins": ["name==version", ...]}

keyed by the spec's own key (requirements, constraints, indexes, the moment) and the interpreter's version. The
next build of that key installs the same requirements with those pins as constraints and `--offline`: the same
set, from uv's cache, or, when the cache lost a file, a failed attempt and the ordinary online install after it.
Not kept: a moment not yet passed (the index may still add a release), `--resolve latest` (no moment), code_path
wheels and the model's own files (installed from the model directory), or an index that had no upload times
(the build fell back to today's index). A release yanked after the resolution was kept stays in it, as it does
in an env built before the yank. Bookkeeping only: unreadable or unwritable, a build simply resolves online.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from envforge.spec import EnvSpec
from envforge.spec.asof import parse_moment
from envforge.store.bookkeeping import read_record, write_record
from envforge.store.layout import home

MARGIN = timedelta(hours=1)  # an index's upload times settle: a mirror may publish a file some minutes after its upload time
VERSION = 1


def _path(spec: EnvSpec, python: str) -> Path:
    digest = hashlib.sha256(json.dumps([VERSION, spec.own_key, python]).encode()).hexdigest()
    return home() / "settled" / f"{digest[:32]}.json"


def applies(spec: EnvSpec, moment: str | None, now: datetime | None = None) -> bool:
    """The spec's resolution is whole (no files of the model) and its moment lies MARGIN in the past."""
    if spec.backend != "uv" or spec.code_wheels or spec.file_hashes or not moment:
        return False
    try:
        return parse_moment(moment, "the cutoff") + MARGIN < (now or datetime.now(timezone.utc))
    except Exception:  # an unreadable moment: never settled
        return False


def recall(spec: EnvSpec, python: str, moment: str | None) -> tuple[list[str], list[str]] | None:
    """(the pins a build of this spec on this Python installed, resolved after its moment had passed, and the notes
    that resolution left: the build's own, said again); or None."""
    if not applies(spec, moment):
        return None
    data = read_record(_path(spec, python))
    pins = data.get("pins") if isinstance(data, dict) and data.get("moment") == moment and data.get("python") == python else None
    if not isinstance(pins, list) or not pins or not all(isinstance(p, str) and "==" in p for p in pins):
        return None
    notes = data.get("notes")
    return pins, [n for n in notes if isinstance(n, str)] if isinstance(notes, list) else []


def remember(spec: EnvSpec, python: str, moment: str | None, installed: tuple[str, ...], resolved_at: datetime,
             notes: list[str] | None = None) -> bool:
    """Keep what a build installed (and the notes its resolution left) when its moment had passed before it
    resolved; True when kept."""
    if not applies(spec, moment, now=resolved_at):
        return False
    pins = [line.strip() for line in installed if "==" in line and " @ " not in line and not line.startswith(("-", "#"))]
    if not pins or len(pins) != len([line for line in installed if line.strip()]):
        return False  # a line that is not an exact pin (a local file, an editable): the set is not the index's alone
    return write_record(_path(spec, python), {"moment": moment, "resolved_at": resolved_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                              "python": python, "pins": sorted(pins), "notes": list(notes or ())})


def install(argv: list[str], pins: list[str], folder: Path, cutoff_args: list[str], timeout: float, env: dict[str, str]) -> bool:
    """Run the install `argv` (without the cutoff) with the remembered pins as constraints, offline; True when it
    installed. A failure (uv's cache no longer holds a file) is not an error: the caller resolves online instead."""
    from envforge.processes.proc import run

    constraints = folder / "settled-constraints.txt"
    constraints.write_text("\n".join(pins) + "\n")
    return run([*argv, "-c", str(constraints), "--offline", *cutoff_args], timeout=timeout, env=env).ok
