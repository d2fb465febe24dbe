"""The sandbox's pids cgroup (execution/cgroup.py) is joined by the supervisor's forked child (processes/deathwatch.py)
right before it executes the command: no launcher interpreter between them. Real cgroup, real processes; envforge
runs as root on these machines (the cgroup is root's limit)."""

from __future__ import annotations

import os

from envforge.execution.cgroup import PidsCgroup
from envforge.processes.proc import JOIN_CGROUP, run, supervised

# What the command reports: its own cgroups, and its parent's command line (the supervisor's).
SHOW = "cat /proc/self/cgroup; echo parent: $(tr '\\0' ' ' < /proc/$PPID/cmdline)"


def _cgroup(limit: int = 20) -> PidsCgroup:
    cgroup = PidsCgroup.create(limit)
    assert cgroup is not None, f"no writable pids cgroup (euid {os.geteuid()}): the sandbox's process limit for root needs one"
    return cgroup


def test_the_command_runs_in_the_cgroup_with_no_launcher_interpreter() -> None:
    cgroup = _cgroup()
    try:
        argv = [*cgroup.launcher(), "/bin/sh", "-c", SHOW]
        started = supervised(argv, None, None)
        assert JOIN_CGROUP not in started  # no launcher interpreter: the supervisor joins the cgroup in its child and execs sh
        assert started[-5:] == [str(cgroup.path / "cgroup.procs"), "/bin/sh", "/bin/sh", "-c", SHOW]
        outcome = run(argv, timeout=60)
        assert outcome.ok, outcome.describe() + outcome.stderr
        pids_line = next(line for line in outcome.stdout.splitlines() if ":pids:" in line or line.startswith("0::"))
        assert pids_line.endswith("/" + cgroup.path.name), outcome.stdout
        assert "deathwatch.py" in outcome.stdout.split("parent:", 1)[1]  # sh's parent is the supervisor
    finally:
        cgroup.remove()


def test_the_cgroup_limit_binds_what_the_command_starts() -> None:
    cgroup = _cgroup(limit=5)
    try:
        forks = "for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; wait"
        outcome = run([*cgroup.launcher(), "/bin/sh", "-c", forks], timeout=60)
        assert cgroup.hit(), outcome.stdout + outcome.stderr  # a fork failed on pids.max: the shell was inside
    finally:
        cgroup.remove()


def test_a_cgroup_that_cannot_be_joined_runs_nothing(tmp_path) -> None:
    gone = tmp_path / "no-such-cgroup"
    outcome = run([*PidsCgroup(gone).launcher(), "/bin/sh", "-c", "echo RAN"], timeout=60)
    assert outcome.returncode != 0 and "RAN" not in outcome.stdout
    assert "cgroup" in outcome.stderr
