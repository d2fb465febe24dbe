"""The one way envforge runs a subprocess: an argv list, a timeout, an explicit environment.

Never a shell: argv elements can come from model files, which are untrusted.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from envforge.bounds.child_output import TOOL_OUTPUT_BYTES, Capped
from envforge.processes import pipe_holders

# Variables a child needs to work at all; everything else is passed only on request.
_BASE_ENV = (
    "PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ", "USER", "LOGNAME",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
    "PYENV_ROOT", "XDG_CACHE_HOME", "XDG_DATA_HOME",
)
_PASS_PREFIXES = ("UV_",)
T = TypeVar("T")


def child_env(extra: Mapping[str, str] | None = None, *, prefixes: Sequence[str] = _PASS_PREFIXES) -> dict[str, str]:
    """A minimal environment for a child process: the basics, chosen prefixes, then `extra`."""
    env = {k: v for k, v in os.environ.items() if k in _BASE_ENV or k.startswith(tuple(prefixes))}
    env.update(extra or {})
    return env


def passed_env(names: Sequence[str]) -> dict[str, str]:
    """The variables named by --pass-env that are set here (the model's process sees only these
    beyond the basics: no cloud credentials or tokens by accident)."""
    return {name: os.environ[name] for name in names if name in os.environ}


@dataclass(frozen=True)
class Outcome:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def tail(self, lines: int = 20) -> str:
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return "\n".join(text[-lines:])

    def describe(self) -> str:
        cmd = " ".join(self.argv)
        if self.timed_out:
            return f"`{cmd}` timed out after {self.seconds:.0f} s"
        return f"`{cmd}` exited with {self.returncode}"


def run(
    argv: Sequence[str],
    *,
    timeout: float | Deadline | None,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    keep: int = TOOL_OUTPUT_BYTES,
) -> Outcome:
    """Run argv, capturing output; kill the whole process group on timeout. The run ends when argv's
    process exits: whatever it left behind holding its stdout/stderr (a daemon in a session of its own)
    is killed after a short grace instead of keeping envforge waiting for the pipes to close.
    At most `keep` bytes of each stream are held (its head and tail, the cut said in the text): a child
    that prints gigabytes cannot make envforge hold them (issue 17)."""
    start = time.monotonic()
    proc = subprocess.Popen(
        supervised(argv, env, cwd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        env=dict(env) if env is not None else None, cwd=cwd, start_new_session=True, pass_fds=_held(),
    )
    _LIVE.add(proc)
    drain = _Drain(proc, keep)
    try:
        timed_out = _wait(proc, timeout)
        if not drain.join(_GRACE):  # the process is gone, the pipes are not: something it started holds them
            _kill_group(proc)
            pipe_holders.kill(drain.inodes)
            drain.join(_GRACE)
    except BaseException:
        _kill_group(proc)
        proc.wait()
        raise
    finally:
        _LIVE.discard(proc)
    out, err = drain.text()
    return Outcome(tuple(argv), proc.returncode, out, err, time.monotonic() - start, timed_out)


_GRACE = 2.0  # seconds the pipes may stay open after the process exited (output still in flight)


class Deadline:
    """A timeout that can be restarted while the child runs: a runner started ahead of its request
    (execution/head_start.py) waits untimed but for `hold` seconds, and its --predict-timeout starts when the
    request is handed over (`restart`)."""

    def __init__(self, hold: float) -> None:
        self._at = time.monotonic() + hold
        self._changed = threading.Condition()
        self._done = False

    def restart(self, seconds: float) -> None:
        with self._changed:
            self._at = time.monotonic() + seconds
            self._changed.notify_all()

    def _expired(self) -> bool:
        """Block until the deadline passes (True) or the child ended (_end: False)."""
        with self._changed:
            while not self._done:
                left = self._at - time.monotonic()
                if left <= 0:
                    return True
                self._changed.wait(left)
            return False

    def _end(self) -> None:
        with self._changed:
            self._done = True
            self._changed.notify_all()


def _wait(proc: subprocess.Popen[bytes], timeout: float | Deadline | None) -> bool:
    """Wait for proc's exit, seen the moment it happens; True when the timeout killed its group first.
    Not Popen.wait(timeout): that polls, sleeping up to 50 ms between looks, so each child's end was seen
    25 ms late on average (a verify runs five to ten children). A blocking wait, and a thread for the timeout."""
    if timeout is None:
        proc.wait()
        return False
    deadline = timeout if isinstance(timeout, Deadline) else Deadline(max(0.0, timeout))
    expired = threading.Event()

    def watch() -> None:
        if deadline._expired() and proc.returncode is None:  # not yet reaped: its pid (the group's id) is its own
            expired.set()
            _kill_group(proc)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        proc.wait()
    finally:
        deadline._end()
    return expired.is_set()


class _Drain:
    """Reads a child's stdout and stderr in two threads, so that waiting for the child and for its
    pipes are two things (communicate() waits for the pipes, which any grandchild can keep open)."""

    def __init__(self, proc: subprocess.Popen[bytes], keep: int = TOOL_OUTPUT_BYTES) -> None:
        self.chunks: dict[str, Capped] = {"out": Capped(keep), "err": Capped(keep)}
        self.inodes = tuple(os.fstat(stream.fileno()).st_ino for stream in (proc.stdout, proc.stderr) if stream)
        self.threads = [threading.Thread(target=self._read, args=(stream, self.chunks[name]), daemon=True)
                        for name, stream in (("out", proc.stdout), ("err", proc.stderr)) if stream]
        for thread in self.threads:
            thread.start()

    @staticmethod
    def _read(stream: Any, chunks: Capped) -> None:
        try:
            for chunk in iter(lambda: stream.read1(65536), b""):
                chunks.append(chunk)
        except (OSError, ValueError):
            pass

    def join(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self.threads)

    def text(self) -> tuple[str, str]:
        def decode(name: str) -> str:
            raw = self.chunks[name].join().decode(errors="replace")
            return raw.replace("\r\n", "\n").replace("\r", "\n")  # as text mode's universal newlines
        return decode("out"), decode("err")


_LIVE: set[subprocess.Popen[bytes]] = set()  # children that run() is waiting on, in any thread


def kill_running() -> None:
    """Kill every child run() is waiting on, in every thread (their run() calls then return): how
    a multi-threaded caller (verify-registry) stops its builds and runners on Ctrl-C."""
    for proc in list(_LIVE):
        _kill_group(proc)


def supervised(argv: Sequence[str], env: Mapping[str, str] | None, cwd: str | None) -> list[str]:
    """argv, started through envforge/processes/deathwatch.py on Linux: it and all it starts die with envforge
    (see that module). argv[0] is looked up here, as Popen would, so a missing program is still a
    FileNotFoundError in envforge rather than an exit code 127 of the supervisor."""
    argv = list(argv)
    if not sys.platform.startswith("linux") or not sys.executable:
        return argv
    cgroup = "-"
    if argv[:5] == in_cgroup("")[:5] and argv[6:7] == ["--"] and len(argv) > 7:  # the supervisor's child joins it: no launcher
        cgroup, argv = argv[5], argv[7:]
    if os.sep in argv[0]:
        exe: str | None = argv[0] if os.access(os.path.join(cwd or ".", argv[0]), os.X_OK) else None
    else:
        exe = shutil.which(argv[0], path=os.pathsep.join(os.get_exec_path(env)))
    if exe is None or os.path.isdir(os.path.join(cwd or ".", exe)):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), argv[0])
    held = ",".join(map(str, _held())) or "-"
    wrap = getattr(_HOLDING, "prefix", None)
    if wrap:  # an install step: argv runs under the wrapper (execution/install_jail.py)
        argv, exe = [*wrap, exe, *argv[1:]], wrap[0]
    return [sys.executable, "-I", "-S", _DEATHWATCH, str(os.getpid()), held, cgroup, exe, *argv]


# Joins a cgroup (argv[1]: its cgroup.procs) and executes argv[3:] (argv[2] is "--"). supervised() folds it into the
# supervisor's CGROUP (deathwatch.py joins it in the forked command): one interpreter start fewer per sandboxed run.
JOIN_CGROUP = "import os,sys\nopen(sys.argv[1],'w').write(str(os.getpid()))\nos.execv(sys.argv[3],sys.argv[3:])"


def in_cgroup(procs: str) -> list[str]:
    """The prefix that runs a command in the cgroup whose cgroup.procs file is `procs` (execution/cgroup.py's pids cgroup)."""
    return [sys.executable, "-I", "-S", "-c", JOIN_CGROUP, procs, "--"]


_DEATHWATCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "deathwatch.py")  # run by path, never imported
_HOLDING = threading.local()


@contextlib.contextmanager
def holding(fd: int) -> Iterator[None]:
    """While inside, every child this thread starts keeps `fd` open in its supervisor (not in the command
    itself) until its whole tree is dead: a lock on fd is then held as long as anything of that tree
    lives, even after envforge is killed (store/build_fence.py)."""
    previous = getattr(_HOLDING, "fds", ())
    _HOLDING.fds = (*previous, fd)
    try:
        yield
    finally:
        _HOLDING.fds = previous


@contextlib.contextmanager
def wrapping(prefix: Sequence[str]) -> Iterator[None]:
    """While inside, every child this thread starts through run() runs as `prefix + argv` (the prefix's first
    word an absolute path): execution/install_jail.py's bubblewrap around install steps."""
    previous = getattr(_HOLDING, "prefix", None)
    _HOLDING.prefix = list(prefix)
    try:
        yield
    finally:
        _HOLDING.prefix = previous


def carry(fn: Callable[[], T]) -> Callable[[], T]:
    """`fn`, to run in another thread as if in this one: the children it starts through run() keep this thread's
    held fds (the build fence) and its wrapper (the install jail)."""
    fds, prefix = getattr(_HOLDING, "fds", ()), getattr(_HOLDING, "prefix", None)

    def carried() -> T:
        _HOLDING.fds, _HOLDING.prefix = fds, prefix
        return fn()
    return carried


def _held() -> tuple[int, ...]:
    return tuple(getattr(_HOLDING, "fds", ())) if sys.platform.startswith("linux") else ()


def _kill_group(proc: subprocess.Popen[Any]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_attached(argv: Sequence[str], *, env: Mapping[str, str], cwd: str | None = None) -> int:
    """Run argv on this process's terminal (for `envforge shell` / `run`) and return its exit code,
    128+N when signal N ended it. Ctrl-C reaches the child only: envforge waits it out."""
    proc = subprocess.Popen(list(argv), env=dict(env), cwd=cwd)
    handlers: dict[int, Any] = {signal.SIGINT: signal.SIG_IGN}  # the terminal sends Ctrl-C to the child as well
    handlers.update({sig: (lambda number, _frame: proc.send_signal(number)) for sig in _FORWARDED})  # a `kill` reaches the child
    previous: dict[int, Any] = {}
    try:
        for sig, handler in handlers.items():
            previous[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread: signal handling cannot change
        pass
    try:
        code = proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 - code if code < 0 else code


_FORWARDED = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Background:
    """A long-running child (a server) in its own process group, output to a log file.
    `stop()` ends the whole group (TERM, then KILL after `grace` seconds); use it as a context manager."""

    def __init__(self, argv: Sequence[str], *, env: Mapping[str, str], log: str, cwd: str | None = None) -> None:
        self.argv = tuple(argv)
        self.log = log
        with open(log, "wb") as handle:
            self.proc = subprocess.Popen(supervised(argv, env, cwd), stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=dict(env), cwd=cwd, start_new_session=True, pass_fds=_held())

    def running(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 20) -> str:
        try:
            with open(self.log, encoding="utf-8", errors="replace") as handle:
                return "\n".join(handle.read().strip().splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, grace: float = 10.0) -> None:
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self) -> Background:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
