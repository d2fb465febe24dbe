"""When each environment group of a local registry run builds, waits and runs.

Two kinds of slot, `--workers` of each: a group builds (or reuses) its env in a build slot and runs its
models in a run slot, so the next group's build (an installer, mostly waiting on disk) overlaps the
current groups' runners instead of queueing behind them. At most twice `--workers` groups are in hand.

One compile of the packages the run's new envs share. They mostly hold the same package files
(mlflow, numpy, pandas, scikit-learn at the same versions: uv links them from its cache), and a new
env's first run compiles every module it imports; two new envs side by side compile the same files
twice. So the first group whose new env is built runs at once (its run's imports are compiled into the
env on the spare core: execution/pycache.py) and the other new envs, once built, wait, holding no run
slot, for it to finish and be harvested into the bytecode store (store/bytecode.py), then take those
.pyc files before they run. Only an env of the same CPython and mlflow's very files (the same inode:
bytecode.shared_files) waits for a first; another mlflow or Python has a first of its own. A reused env
never waits, nor a new one the store seeded at its build (its mlflow has bytecode already: the next
night's new envs), nor any env once the first has finished, failed, or taken longer than WAIT_SECONDS.

Local executor only: a Dask worker is another process with its own store (verify_group unpaced).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

WAIT_SECONDS = 60.0
Stop = Callable[[], bool]


class FirstCompile:
    """Per set of shared files (bytecode.shared_files: one CPython, one mlflow), the first new env and the others' wait for it."""

    def __init__(self, wait_seconds: float = WAIT_SECONDS) -> None:
        self.wait_seconds = wait_seconds
        self._lock = threading.Lock()
        self._finished: dict[str, threading.Event] = {}

    def claim(self, shared: str) -> bool:
        """True for the first new env of these shared files only: it runs at once, and must call finished(shared)
        when harvested (or failed)."""
        with self._lock:
            first = shared not in self._finished
            self._finished.setdefault(shared, threading.Event())
        return first

    def finished(self, shared: str) -> None:
        self._finished[shared].set()

    def wait_then_seed(self, shared: str, env_path: Path, stop: Stop) -> float:
        """For a new env that was not first: wait for the first's harvest (bounded, stop-aware), then link the
        store's .pyc files into this env. Returns the seconds waited."""
        from envforge.store import bytecode

        finished, start = self._finished[shared], time.perf_counter()
        while not finished.is_set() and not stop() and time.perf_counter() - start < self.wait_seconds:
            finished.wait(0.1)
        waited = time.perf_counter() - start
        if finished.is_set():
            bytecode.seed(env_path)
        return waited


class Pacing:
    """Shared by the groups of one local run (workers given); Pacing() paces nothing (a Dask task)."""

    def __init__(self, workers: int | None = None, wait_seconds: float = WAIT_SECONDS) -> None:
        self.threads = 2 * workers if workers else 1
        self.first_compile = FirstCompile(wait_seconds) if workers else None
        self._slots = {kind: threading.BoundedSemaphore(workers) for kind in ("build", "run")} if workers else {}

    @contextmanager
    def slot(self, kind: str, stop: Stop, waited: Callable[[float], None] | None = None) -> Iterator[bool]:
        """Holds a build or run slot for the block; yields False, holding none, when the run was stopped while waiting.
        `waited` is told the seconds spent waiting for the slot (a group's `queued` timing: registry/run.timing)."""
        semaphore = self._slots.get(kind)
        if semaphore is None:
            yield True
            return
        start = time.perf_counter()
        while not semaphore.acquire(timeout=0.2):
            if stop():
                yield False
                return
        if waited is not None:
            waited(time.perf_counter() - start)
        try:
            yield True
        finally:
            semaphore.release()
