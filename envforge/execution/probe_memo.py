"""The sandbox probe's last success, remembered per boot: a runner started ahead (execution/head_start.py) does not
wait for a probe that passed before.

Every `envforge verify` probed bubblewrap (`bwrap ... true`: 40-70 ms, through its supervisor) before the runner
could start. A probe that passed on this boot, for this very bwrap binary, is kept in `$ENVFORGE_HOME/sandbox-probe.json`;
a head start trusts it. That is safe because a sandbox that cannot start fails at its runner's start, before the
request is handed over: head_start then drops that runner, and the run goes the usual way, which probes again
(execution/sandbox.unavailable) and says what it found. Every other caller still probes.
"""

from __future__ import annotations

import os
import shutil

from envforge.store.bookkeeping import read_record, write_record
from envforge.store.layout import home

FILE = "sandbox-probe.json"


def _identity() -> dict[str, object] | None:
    """This boot and this bwrap binary; None when either cannot be told."""
    path = shutil.which("bwrap")
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            boot = handle.read().strip()
        info = os.stat(path) if path else None
    except OSError:
        return None
    if not info or not boot:
        return None
    return {"boot": boot, "bwrap": os.path.realpath(path or ""), "size": info.st_size, "mtime_ns": info.st_mtime_ns,
            "uid": os.getuid()}


def passed_before() -> bool:
    """A probe passed on this boot with this bwrap (and this user)."""
    identity = _identity()
    return identity is not None and read_record(home() / FILE) == identity


def note_passed() -> None:
    """Remember a passing probe; best effort (without it, the next head start probes)."""
    identity = _identity()
    if identity is not None:
        write_record(home() / FILE, identity)
