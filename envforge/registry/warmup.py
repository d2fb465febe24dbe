"""One compile of the packages a registry run's new envs share.

The envs of one registry run mostly hold the same package files (mlflow, numpy, pandas, scikit-learn
at the same versions: uv links them from its cache), and a new env's first run compiles every module it
imports. Run side by side, two new envs compile the same files twice, each on its own core. So the
first group whose new env is built runs at once (its run's imports are compiled into the env on the
spare core: execution/pycache.py) and the other new envs, once built, wait for it to finish and be
harvested into the bytecode store (store/bytecode.py), then take those .pyc files before they run.
A reused env never waits; nor does any env once the first has finished, failed, or taken longer than
WAIT_SECONDS (its package files may not be the others' at all). Local executor only: a Dask worker is
another process with its own store.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

WAIT_SECONDS = 60.0


class FirstCompile:
    def __init__(self, wait_seconds: float = WAIT_SECONDS) -> None:
        self.wait_seconds = wait_seconds
        self._claimed = False
        self._lock = threading.Lock()
        self._finished = threading.Event()

    def claim(self) -> bool:
        """True for the first new env only: it runs at once, and must call finished() when harvested (or failed)."""
        with self._lock:
            first, self._claimed = not self._claimed, True
        return first

    def finished(self) -> None:
        self._finished.set()

    def wait_then_seed(self, env_path: Path, stop: Callable[[], bool]) -> float:
        """For a new env that was not first: wait for the first's harvest (bounded, stop-aware), then link the
        store's .pyc files into this env. Returns the seconds waited."""
        from envforge.store import bytecode

        start = time.perf_counter()
        while not self._finished.is_set() and not stop() and time.perf_counter() - start < self.wait_seconds:
            self._finished.wait(0.1)
        waited = time.perf_counter() - start
        if self._finished.is_set():
            bytecode.seed(env_path)
        return waited
