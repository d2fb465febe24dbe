"""How the pipeline tells a user interface what it is doing. Silent by default."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from envforge.result import Step


class Progress(Protocol):
    def started(self, step: str) -> None: ...
    def update(self, text: str) -> None: ...
    def done(self, step: Step) -> None: ...


class Silent:
    def started(self, step: str) -> None:
        pass

    def update(self, text: str) -> None:
        pass

    def done(self, step: Step) -> None:
        pass


@contextmanager
def timed(steps: list[Step], progress: Progress, name: str) -> Iterator[Step]:
    """Time a step; the body may set `.detail`. The step is recorded even when it raises."""
    step = Step(name=name, seconds=0.0)
    progress.started(name)
    start = time.perf_counter()
    try:
        yield step
    except BaseException:
        step.failed = True
        raise
    finally:
        step.seconds = time.perf_counter() - start
        steps.append(step)
        progress.done(step)
