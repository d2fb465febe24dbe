"""A pids cgroup for the sandbox when envforge runs as root.

RLIMIT_NPROC does not bind root (the kernel exempts uid 0, in a user namespace too), so for root the
sandbox's process limit is a child cgroup of our own with `pids.max` (cgroup v2, or v1's pids
controller), which bubblewrap joins before it is executed (processes/proc.in_cgroup: under proc.run, the supervisor's
forked child joins it, processes/deathwatch.py): everything the model starts is born inside it. Not root, or no
writable cgroup: None, and RLIMIT_NPROC (set inside the sandbox's user namespace, where it counts only the model's processes) does the job.
"""

from __future__ import annotations

import itertools
import os
import shutil
import time
from pathlib import Path

from envforge.processes.proc import in_cgroup

_COUNT = itertools.count()


class PidsCgroup:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, limit: int) -> PidsCgroup | None:
        """A new child cgroup limited to `limit` tasks, or None where that cannot be done."""
        if os.geteuid() != 0:
            return None
        for parent in _parents():
            path = parent / f"envforge-{os.getpid()}-{next(_COUNT)}"
            try:
                path.mkdir()
            except OSError:
                continue
            try:
                (path / "pids.max").write_text(str(limit))
                return cls(path)
            except OSError:
                path.rmdir()
        return None

    def launcher(self) -> list[str]:
        return in_cgroup(str(self.path / "cgroup.procs"))

    def hit(self) -> bool:
        """Whether a fork failed on pids.max (pids.events: `max N`)."""
        try:
            events = dict(line.split() for line in (self.path / "pids.events").read_text().splitlines() if line.strip())
        except (OSError, ValueError):
            return False
        return int(events.get("max", "0")) > 0

    def remove(self) -> None:
        for _ in range(50):  # the kernel needs a moment after the last task ended
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.02)
        shutil.rmtree(self.path, ignore_errors=True)


def _parents() -> list[Path]:
    """Where our own cgroup is, for the pids controller: v2's unified tree, then v1's."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        relative = path.lstrip("/")
        if controllers == "" and Path("/sys/fs/cgroup/cgroup.controllers").is_file():
            if "pids" in Path("/sys/fs/cgroup/cgroup.controllers").read_text().split():
                found.append(Path("/sys/fs/cgroup") / relative)
        elif "pids" in controllers.split(","):
            found.append(Path("/sys/fs/cgroup/pids") / relative)
    return found
