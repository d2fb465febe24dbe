"""Read the runner's answer while it still runs: a multi-model runner writes each model's answer file when the
model ends and then rewrites result.json (atomically, os.replace) with how many are whole, so a thread that
re-reads it on change can hand each finished model on at once instead of when the whole group ends
(verify-registry prints each version's verdict as soon as it is known)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

POLL_SECONDS = 0.25


@contextmanager
def watching(path: Path, on_answer: Callable[[dict[str, Any]], None] | None,
             read: Callable[[Path], Any]) -> Iterator[None]:
    """While the block runs, call on_answer(answer) each time `path` is replaced by a new answer
    (read with `read`, which bounds it like every untrusted input). Nothing happens when on_answer
    is None. An exception from reading ends the watch, never the run: the final answer is read after
    the block either way. on_answer should not raise (run_runner_many keeps its callback's exceptions
    and raises them once the runner is done); if it does, the watch ends."""
    if on_answer is None:
        yield
        return
    stop = threading.Event()

    def loop() -> None:
        seen: tuple[int, int] | None = None
        while not stop.wait(POLL_SECONDS):
            try:
                stat = path.stat()
            except OSError:
                continue
            if (stat.st_mtime_ns, stat.st_ino) == seen:
                continue
            seen = (stat.st_mtime_ns, stat.st_ino)
            try:
                answer = read(path)
            except Exception:  # over a limit or unreadable: the final read reports it
                return
            if isinstance(answer, dict):
                try:
                    on_answer(answer)
                except Exception:
                    return

    thread = threading.Thread(target=loop, name="envforge-answer-watch", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
