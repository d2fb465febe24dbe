"""What is left of a process tree after a kill, said so that a failure can be diagnosed from the CI log alone."""

from __future__ import annotations

import psutil

# How long a test waits for a killed envforge's tree to be gone. The supervisor (envforge/processes/deathwatch.py) kills it
# within milliseconds when the machine is idle; under CI's full load (two test workers building envs, dockerd)
# the scheduler, not envforge, decides, so the bound is generous: it is a "they do die", not a speed, check.
GONE_WITHIN = 30.0


def still_running(procs: list[psutil.Process]) -> list[str]:
    """The processes of `procs` that are alive and not zombies, each as `pid (parent pid, state): command line`."""
    out = []
    for p in procs:
        try:
            with p.oneshot():
                status = p.status() if p.is_running() else psutil.STATUS_DEAD
                if status not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
                    out.append(f"{p.pid} (parent {p.ppid()}, {status}): {' '.join(p.cmdline())[:200]}")
        except psutil.NoSuchProcess:
            pass
    return out


def wait_gone(procs: list[psutil.Process], timeout: float = GONE_WITHIN) -> list[str]:
    """Wait up to `timeout` s for every process of `procs` to end; return those still running (see still_running)."""
    psutil.wait_procs(procs, timeout=timeout)
    return still_running(procs)
