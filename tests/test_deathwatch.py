"""envforge/processes/deathwatch.py, the supervisor every child of proc.run starts through (issue 13, no orphans):
real processes, a real `kill -9` of the parent alone, /proc scanned for what is left."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from envforge.processes.proc import run

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")

# A parent that starts, from a worker thread (as verify-registry does), a child whose own children
# escape every process-group kill: one in a new session, one double-forked.
PARENT = """
import sys, threading
from envforge.processes.proc import run
tag = sys.argv[1]
script = ("sleep %s.1 & setsid sleep %s.2 & (sleep %s.3 &) ; echo started; exec sleep %s.4" % ((tag,) * 4))
worker = threading.Thread(target=run, args=(["sh", "-c", script],), kwargs={"timeout": 600})
worker.start()
worker.join()
"""


def _alive(tag: str) -> list[int]:
    """The pids of live (not zombie) `sleep TAG.N` processes."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if cmdline.startswith(f"sleep {tag}.") and state != "Z":
            found.append(int(pid))
    return found


def _wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_kill_9_of_the_parent_alone_kills_every_descendant() -> None:
    tag = f"61{os.getpid() % 1000:03d}"
    parent = subprocess.Popen([sys.executable, "-c", PARENT, tag], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert _wait_for(lambda: len(_alive(tag)) == 4, 30), _alive(tag)
        os.kill(parent.pid, signal.SIGKILL)  # the parent only: its children are in a session of their own
        parent.wait()
        assert _wait_for(lambda: not _alive(tag), 5), f"outlived their parent: {_alive(tag)}"
    finally:
        for pid in _alive(tag):  # never leave the test's own debris behind
            os.kill(pid, signal.SIGKILL)


def test_exit_status_and_signal_death_reach_the_caller_as_before() -> None:
    assert run(["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=60).returncode == 3
    outcome = run(["sh", "-c", "kill -9 $$"], timeout=60)
    assert outcome.returncode == -signal.SIGKILL
    assert run(["sh", "-c", "kill -SEGV $$"], timeout=60).returncode == -signal.SIGSEGV


def test_a_missing_program_is_still_file_not_found() -> None:
    with pytest.raises(FileNotFoundError):
        run(["envforge-no-such-program"], timeout=60)


def test_argv0_is_kept_and_what_the_command_left_dies_when_it_exits() -> None:
    tag = f"62{os.getpid() % 1000:03d}"
    outcome = run(["sh", "-c", f'echo "$0"; (sleep {tag}.1 > /dev/null 2>&1 &)'], timeout=60)
    assert outcome.ok and outcome.stdout == "sh\n"
    assert _wait_for(lambda: not _alive(tag), 5), _alive(tag)


FENCED = """
import sys
from envforge.processes.proc import run
from envforge.store.build_fence import fenced
with fenced(sys.argv[1]):
    run(["sleep", sys.argv[2]], timeout=600)
"""


def _parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_the_build_fence_is_held_until_every_survivor_of_a_killed_build_is_gone(tmp_path: Path, monkeypatch) -> None:
    """The supervisor is stopped (SIGSTOP) before envforge is killed, so the survivor outlives it for as
    long as the test wants: the next build's fence must wait for it, then get through once it is gone."""
    from envforge.errors import EnvBuildError
    from envforge.store.build_fence import fenced

    monkeypatch.setenv("ENVFORGE_HOME", str(tmp_path))
    key, tag = "f" * 64, f"63{os.getpid() % 1000:03d}.5"
    parent = subprocess.Popen([sys.executable, "-c", FENCED, key, tag], env={**os.environ, "ENVFORGE_HOME": str(tmp_path)})
    supervisor = 0
    try:
        assert _wait_for(lambda: _alive(tag[:5]), 30)
        supervisor = _parent_of(_alive(tag[:5])[0])
        os.kill(supervisor, signal.SIGSTOP)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        with pytest.raises(EnvBuildError, match="interrupted build") as caught, fenced(key, timeout=0.5):
            pass
        assert "fuser" in caught.value.remedy and _alive(tag[:5]), "the survivor should still be there"
        os.kill(supervisor, signal.SIGCONT)  # its pending parent-death signal now kills its tree
        with fenced(key, timeout=30):
            assert not _alive(tag[:5])
    finally:
        if supervisor:
            with contextlib.suppress(ProcessLookupError):
                os.kill(supervisor, signal.SIGCONT)
        for pid in _alive(tag[:5]):
            os.kill(pid, signal.SIGKILL)


def test_a_childs_end_is_seen_when_it_happens_and_a_timeout_still_kills_its_group(monkeypatch) -> None:
    """run() waits without polling (issue 33): Popen.wait(timeout) slept up to 50 ms between looks at the child."""
    slept: list[float] = []
    monkeypatch.setattr(subprocess.time, "sleep", lambda seconds: slept.append(seconds))  # the polling wait's only pause
    done = run([sys.executable, "-c", "import time; time.sleep(0.3)"], timeout=30)
    assert done.ok and not done.timed_out and slept == []
    start = time.monotonic()
    stuck = run(["sh", "-c", "sleep 30 & sleep 30"], timeout=0.5)  # the timeout kills the child and what it started
    assert stuck.timed_out and not stuck.ok and time.monotonic() - start < 10
