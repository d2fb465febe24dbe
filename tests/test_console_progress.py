"""report/console.py's progress: a spinner (rich's status, a thread redrawing it) on a terminal only; off a
terminal (CI, a pipe) the same step lines and no thread. Real rich consoles, real threads."""

from __future__ import annotations

import io
import threading

from rich.console import Console

from envforge.progress import timed
from envforge.report.console import ConsoleProgress, spinner
from envforge.result import Step


def _threads_during_a_step(console: Console) -> tuple[int, list[Step]]:
    steps: list[Step] = []
    before = threading.active_count()
    with timed(steps, ConsoleProgress(console), "resolve") as step:
        during = threading.active_count() - before
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
    before = threading.active_count()
    with spinner(Console(file=io.StringIO()), "resolving 3 model version(s)…"):
        assert threading.active_count() == before
    with spinner(Console(file=io.StringIO(), force_terminal=True), "resolving 3 model version(s)…"):
        assert threading.active_count() == before + 1
