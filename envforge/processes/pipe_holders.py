"""Find and kill the processes that hold one of our pipes (Linux /proc): what a model left running.

A model's predict() can start a daemon in a session of its own (`Popen([...], start_new_session=True)`):
it escapes the runner's process group, inherits the runner's stdout/stderr and would keep envforge
reading them until the timeout. proc.run knows the pipes' inodes; every process whose /proc/PID/fd
links to one of them is such a survivor, wherever it moved to. Without /proc (macOS) nothing is found
and proc.run stops waiting on the pipes anyway.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable


def holders(inodes: Iterable[int]) -> list[int]:
    """The pids (other than ours) with an open fd on one of the pipes `inodes`."""
    wanted = {f"pipe:[{inode}]" for inode in inodes}
    found = []
    try:
        pids = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []
    for pid in pids:
        if int(pid) == os.getpid():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:  # gone, or not ours to look at
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") in wanted:
                    found.append(int(pid))
                    break
            except OSError:
                continue
    return found


def kill(inodes: Iterable[int]) -> int:
    """SIGKILL every holder of the pipes (a few rounds: a holder may fork while we look); how many."""
    inodes = tuple(inodes)
    killed: set[int] = set()
    for _ in range(3):
        found = [pid for pid in holders(inodes) if pid not in killed]
        if not found:
            break
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except (ProcessLookupError, PermissionError):
                pass
    return len(killed)
