"""report/console.py's progress: a spinner (rich's status, a thread redrawing it) on a terminal only; off a
terminal (CI, a pipe) the same step lines and no thread. Real rich consoles, real threads."""

from __future__ import annotations

import io
import threading

from rich.console import Console

from envforge.progress import timed
from envforge.report.console import ConsoleProgress, spinner
from envforge.result import Step


def _refreshers() -> set[threading.Thread]:
    """Live rich refresh threads (what redraws a spinner), by their class: other tests' threads may come and go, and
    a stopped spinner's thread is not joined (it ends on its own a moment later)."""
    return {t for t in threading.enumerate() if type(t).__name__ == "_RefreshThread" and t.is_alive()}


def _threads_during_a_step(console: Console) -> tuple[int, list[Step]]:
    steps: list[Step] = []
    before = _refreshers()
    with timed(steps, ConsoleProgress(console), "resolve") as step:
        during = len(_refreshers() - before)
        step.detail = "local"
    return during, steps


def test_off_a_terminal_no_spinner_thread_and_the_same_line() -> None:
    text = io.StringIO()
    during, steps = _threads_during_a_step(Console(file=text, soft_wrap=True))
    assert during == 0
    assert steps[0].name == "resolve"
    lines = text.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].split() == ["resolve", f"{steps[0].seconds:.2f}", "s", "local"]
    assert "\x1b" not in text.getvalue()  # no control sequences: a plain line


def test_on_a_terminal_the_spinner_runs_while_the_step_does() -> None:
    text = io.StringIO()
    during, _ = _threads_during_a_step(Console(file=text, force_terminal=True, soft_wrap=True))
    assert during == 1  # rich's refresh thread
    assert "resolve" in text.getvalue()


def test_the_registry_spinner_only_on_a_terminal() -> None:
    before = _refreshers()
    with spinner(Console(file=io.StringIO()), "resolving 3 model version(s)…"):
        assert _refreshers() - before == set()
    with spinner(Console(file=io.StringIO(), force_terminal=True), "resolving 3 model version(s)…"):
        assert len(_refreshers() - before) == 1
