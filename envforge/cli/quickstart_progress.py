"""The quickstart's progress: a line as each step starts (a spinner alone shows nothing when stderr is not a terminal,
and training and logging take seconds), a timed row as it ends, in the rows verify prints for its own steps."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from envforge.cli.output import escape
from envforge.result import Step


class QuickstartProgress:
    def __init__(self, err: Any, quiet: bool = False) -> None:
        self.err, self.quiet, self.start = err, quiet, time.monotonic()
        if not quiet:
            err.print("[bold]envforge quickstart[/]: train, log, record, verify (uv backend)", highlight=False)

    @contextlib.contextmanager
    def step(self, name: str, doing: str) -> Iterator[None]:
        from envforge.report.console import ConsoleProgress

        if not self.quiet:
            self.err.print(f"[dim]envforge: {escape(doing)}…[/]", highlight=False)
        begun, failed = time.monotonic(), True
        try:
            yield
            failed = False
        finally:
            if not self.quiet:
                ConsoleProgress(self.err).done(Step(name, time.monotonic() - begun, failed=failed))

    def total(self) -> None:
        if not self.quiet:
            self.err.print(f"[dim]envforge: quickstart done in {time.monotonic() - self.start:.1f} s[/]", highlight=False)
