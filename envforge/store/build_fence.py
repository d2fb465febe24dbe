"""The build fence: a later build of an env waits until nothing of an interrupted build of it still runs.

Why not "build in a temp dir, then rename it into place" (issue 13's first idea): envs are not
relocatable. Measured: a uv venv built at a/ and renamed to b/ keeps `#!/…/a/bin/python` in every console
script (b/bin/pip: "cannot execute: required file not found"); virtualenv writes the same absolute
shebangs, and a conda/rattler prefix has its path substituted into text and binary files at link time.
So an env is built at its final path, under the per-key lock, with its state marker written last
(store/marker.py); a later run trusts only a directory with a marker and wipes and rebuilds one without.

The hazard that leaves: a process of the interrupted build (`kill -9` of envforge alone) still writing
into the fresh directory of the next build, which that build then marks complete and trusts. Two things
close it. Every child envforge starts dies with it (envforge/processes/deathwatch.py: PR_SET_PDEATHSIG plus a
subreaper, so sdist builds started by uv die too). And this fence removes the race between "the
survivors are being killed" and "the next run already wipes and rebuilds": the build holds an exclusive
flock on locks/env-<key>.build for its whole length, and passes that lock's open file to the supervisor
of every step it starts (proc.holding). The kernel releases a flock only when every holder of that open
file has closed it, so after a `kill -9` the lock stays held until each supervisor has killed its
whole tree and exited; the next build takes the fence before it touches the directory.

Only children started from the building thread hold the fence (proc.holding is per thread, so parallel
builds in verify-registry's worker threads each fence their own env). No-op without fcntl (Windows).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

from envforge.errors import EnvBuildError
from envforge.processes import proc
from envforge.store.layout import env_lock_name, locks_dir

_POLL = 0.05


@contextlib.contextmanager
def fenced(key: str, *, timeout: float = 120.0) -> Iterator[None]:
    """Hold the build fence of EnvSpec.key `key` (call it with the per-key lock held), waiting up to
    `timeout` s for what is left of an interrupted build of it to die."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    directory = locks_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = Path(directory) / f"{env_lock_name(key)}.build"
    with open(path, "a+b") as handle:  # closing it (here, and in every supervisor) releases the fence
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise EnvBuildError(
                        f"A process of an interrupted build of this environment still holds {path} after {timeout:.0f} s, "
                        "so it may still be writing into the environment's directory; envforge will not rebuild under it.",
                        f"Find it with `fuser {path}` and stop it, then run envforge again.",
                    ) from None
                time.sleep(_POLL)
        with proc.holding(handle.fileno()):
            yield
