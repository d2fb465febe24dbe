"""The console script's last step: exit without the interpreter's teardown once envforge has nothing left to do.

A warm verify ends with hundreds of modules imported; the interpreter's normal exit then finalizes every module
and collects every object, a cost paid after the verdict is printed (issue 33). `leave` runs only at the very
outer end of `envforge.cli:run`, after main() returned and so after every `finally` and ExitStack of the command
(children killed and reaped, work directories and half-built envs removed, locks released). It then does what the
normal exit would still do that anyone can see: the atexit callbacks, logging's handlers flushed and closed,
stdout and stderr flushed; then os._exit with main()'s code. Where something could still be running (a thread that
is not a daemon, a child proc.run waits on) it exits the usual way, which waits for them.

Stdout closed early by its reader (`envforge verify ... | head -1`): the flush's BrokenPipeError is dropped, the
exit code stays the verdict's (the normal exit said `Exception ignored ... BrokenPipeError` and exited 120).
"""

from __future__ import annotations

import atexit
import os
import sys
import threading


def leave(code: int) -> None:
    """Exit with `code`: quickly when nothing is left running, else through sys.exit."""
    if _still_running():
        sys.exit(code)
    try:
        atexit._run_exitfuncs()  # what the normal exit runs first (tempfile finalizers, libraries' hooks)
    except BaseException:  # noqa: BLE001 - as the normal exit, a failing callback does not change the exit code
        pass
    if "logging" in sys.modules:  # file handlers (--log-to...) flushed and closed, as logging's own atexit hook does
        sys.modules["logging"].shutdown()
    for stream in (sys.stdout, sys.stderr):
        _flush(stream)
    os._exit(code)


def _still_running() -> bool:
    """A thread that is not a daemon (the normal exit joins it), or a child process a thread still waits on."""
    if any(t is not threading.main_thread() and not t.daemon and t.is_alive() for t in threading.enumerate()):
        return True
    proc = sys.modules.get("envforge.processes.proc")
    return bool(proc is not None and getattr(proc, "_LIVE", None))


def _flush(stream: object) -> None:
    if stream is None:
        return
    try:
        stream.flush()  # type: ignore[attr-defined]
    except (OSError, ValueError):  # the reader went away (BrokenPipeError), or the stream was closed: nothing more to say there
        _drop(stream)


def _drop(stream: object) -> None:
    """Point the stream's descriptor at /dev/null, so nothing later (a buffered write) blocks or fails on it."""
    try:
        fd = stream.fileno()  # type: ignore[attr-defined]
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)
    except (OSError, ValueError, AttributeError):
        pass
