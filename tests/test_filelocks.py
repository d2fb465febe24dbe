"""store/filelocks.py: a cache key's lock is exclusive between processes and threads, waits with on_wait said once,
times out with a one-paragraph error, and is the same lock filelock sees (fcntl directly: issue 33, no asyncio import)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import filelock
import pytest

from envforge.errors import EnvBuildError
from envforge.store.filelocks import locked, try_locked
from envforge.store.layout import locks_dir

HOLD = "import sys, time; from envforge.store.filelocks import locked\nwith locked('key'):\n    print('held', flush=True); time.sleep(30)\n"


def test_another_process_holding_the_lock_is_waited_for_then_a_timeout_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVFORGE_HOME", str(tmp_path))
    holder = subprocess.Popen([sys.executable, "-c", HOLD], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with try_locked("key") as got:
            assert got is False
        with pytest.raises(filelock.Timeout):  # the same lock as filelock's, on the same file
            filelock.FileLock(str(locks_dir() / "key.lock")).acquire(timeout=0)
        said: list[str] = []
        with pytest.raises(EnvBuildError, match="Another envforge process has held the lock 'key'"):
            with locked("key", timeout=0.2, on_wait=lambda: said.append("waiting")):
                pass
        assert said == ["waiting"]
    finally:
        holder.kill()
        holder.wait()
    with locked("key", timeout=5):  # released when its process died
        pass


def test_threads_take_turns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVFORGE_HOME", str(tmp_path))
    order: list[str] = []

    def second() -> None:
        with locked("key", on_wait=lambda: order.append("second waits")):
            order.append("second holds")

    with locked("key"):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)
        order.append("first releases")
    thread.join()
    assert order == ["second waits", "first releases", "second holds"]
