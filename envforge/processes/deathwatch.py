"""Run one command so that it, and everything it starts, dies with envforge (issue 13: no orphans).

`kill -9` of envforge's pid alone (not its process group) leaves every child running: an installer goes
on writing into the env directory that the next run rebuilds and then trusts. PR_SET_PDEATHSIG alone
does not cover it: the kernel clears it on fork, so the build backend `uv` starts for an sdist (a
grandchild of envforge) would outlive everything. So envforge starts each child through this small
supervisor, run by path as `python -I -S processes/deathwatch.py PARENT_PID HELD_FDS CGROUP EXECUTABLE ARGV...` (stdlib only, never imports
envforge; about one bare interpreter start per child: 30 ms at best on a loaded 2-core machine
where `python -I -S -c pass` takes 22), which

- becomes a child subreaper (PR_SET_CHILD_SUBREAPER): whatever its command starts and abandons is
  re-parented to it rather than to init, so it can always find all of them in /proc;
- asks for SIGUSR1 when envforge dies (PR_SET_PDEATHSIG), and on it SIGKILLs every descendant
  (repeatedly, until none is left: a fork bomb too), then its own process group, itself included;
- runs the command, reaps what it leaves, and when the command exits kills what is left of its tree
  (nothing a build step starts outlives the step) and exits with the command's status, dying by the
  same signal if a signal ended the command, so callers see the returncode they always saw.

HELD_FDS (comma-separated, or -): descriptors the supervisor keeps open, closed in the command, until
its whole tree is dead. store/build_fence.py passes its lock this way, so a later build of the same env
waits until every process of an interrupted one is gone before it wipes the directory.

CGROUP (a cgroup's `cgroup.procs` file, or -): the command joins that cgroup before it is executed (its forked
process writes "0" there, which moves the writer), so everything it starts is born inside it; the sandbox's pids
cgroup (execution/cgroup.py) is joined this way, without a launcher interpreter of its own between this supervisor
and bubblewrap. A cgroup that cannot be joined: the command is not run (exit 126, the reason on stderr).

SIGUSR1, not SIGTERM: `Background.stop()` sends TERM to the process group for a graceful shutdown,
which the supervisor ignores (its command gets the TERM from the group) while it waits for the command.

Threads: the kernel sends the parent-death signal when the *thread* that forked the child exits, not
the process. envforge starts children from worker threads (verify-registry's pool), so that would fire
early if a thread could end before its child; it cannot: proc.run waits for its child in the thread that
started it (on every path, exceptions included), and a Background server is stopped by the `with` block
of the thread that started it. Hence PDEATHSIG is safe here without a dedicated forking thread.

Linux only (prctl); elsewhere processes/proc.py runs commands directly.
"""

import os
import sys
import time

try:  # _signal and _ctypes, not signal and ctypes: importing those two costs more than the interpreter's start
    import _signal as signal
except ImportError:  # pragma: no cover - not CPython
    import signal

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
DEATH_SIGNAL = signal.SIGUSR1


def descendants(root):
    """Every live process below `root`, by walking /proc's parent links."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/" + name + "/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if fields and fields[0] != b"Z":
            children.setdefault(int(fields[1]), []).append(int(name))
    found, todo = [], [root]
    while todo:
        for pid in children.get(todo.pop(), ()):
            found.append(pid)
            todo.append(pid)
    return found


def reap():
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def has_children(me):
    """Whether anything lives below this (single-threaded) process: a subreaper's descendants all
    hang below its direct children. True when the kernel does not say (no CONFIG_PROC_CHILDREN)."""
    try:
        with open(f"/proc/{me}/task/{me}/children", "rb") as handle:
            return bool(handle.read().strip())
    except OSError:
        return True


def kill_tree(thorough=False):
    """SIGKILL every descendant until none is left. `thorough` (envforge is dead: nothing else will
    ever clean up) trusts no shortcut: the /proc children file may miss a child being re-parented to
    this subreaper at that moment (proc(5): not reliable while children are created or exit), so it
    walks all of /proc and stops only after two empty walks 10 ms apart. Seen without it, on a loaded
    2-core machine: a model's grandchild, and an sdist's build backend, outlived a `kill -9` of envforge."""
    me = os.getpid()
    empty = 0
    for _ in range(1000):
        reap()
        pids = descendants(me) if thorough or has_children(me) else []
        if not pids:
            empty += 1
            if not thorough or empty == 2:
                return
            time.sleep(0.01)
            continue
        empty = 0
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        reap()
        time.sleep(0.005)


def on_parent_death(_number, _frame):
    kill_tree(thorough=True)
    last_sweep()
    os._exit(128 + DEATH_SIGNAL)


def last_sweep():
    """envforge is dead: SIGKILL this supervisor's whole process group, itself included (proc.run starts it
    in a session of its own, so the group is it and what its command started there). A backstop for what the
    /proc walk missed: seen once in CI, an sdist's build backend (uv's child, in this group) outlived a
    `kill -9` of envforge re-parented to init, after the walk had come back empty twice."""
    if os.getpgrp() == os.getpid():
        try:
            os.killpg(os.getpid(), signal.SIGKILL)
        except OSError:
            pass


def prctl(option, value):
    """prctl(2) through _ctypes' own entry points (what ctypes.CDLL(None).prctl calls), else ctypes."""
    try:
        import _ctypes

        return _ctypes.call_function(_ctypes.dlsym(_ctypes.dlopen(None, os.RTLD_NOW), "prctl"), (option, value, 0, 0, 0))
    except (ImportError, AttributeError, OSError):
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def join(procs):
    """Move this process into the cgroup whose cgroup.procs is `procs` (writing 0 moves the writer), or exit 126."""
    try:
        fd = os.open(procs, os.O_WRONLY)
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)
    except OSError as exc:
        os.write(2, f"deathwatch: cannot join the cgroup {procs}: {exc}\n".encode())
        os._exit(126)


def main(argv):
    parent, held, cgroup, executable, command = int(argv[1]), argv[2], argv[3], argv[4], argv[5:]
    held_fds = [int(fd) for fd in held.split(",") if fd.isdigit()]
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(DEATH_SIGNAL, on_parent_death)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    prctl(PR_SET_PDEATHSIG, int(DEATH_SIGNAL))
    if os.getppid() != parent:  # envforge died before the signal was asked for
        os._exit(128 + DEATH_SIGNAL)
    pid = os.fork()
    if pid == 0:
        for sig in (DEATH_SIGNAL, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        for fd in held_fds:  # the supervisor holds them for its tree; the command has no business with them
            os.close(fd)
        if cgroup != "-":
            join(cgroup)
        try:
            os.execv(executable, command)
        except OSError as exc:
            os.write(2, f"deathwatch: cannot run {command[0]}: {exc}\n".encode())
        os._exit(127)
    while True:
        done, status = os.waitpid(-1, 0)
        if done == pid:
            break
    orphaned = os.getppid() != parent  # the command may have ended because envforge died
    kill_tree(thorough=orphaned)
    if orphaned:
        last_sweep()
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            signal.signal(number, signal.SIG_DFL)  # SIGKILL and SIGSTOP cannot be caught: already default
        except (OSError, ValueError):
            pass
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # the command dumped core already if it could
        os.kill(os.getpid(), number)
        os._exit(128 + number)
    os._exit(os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status >> 8)


if __name__ == "__main__":
    main(sys.argv)
