"""Console output with rich: a line per finished step with its timing, then the verdict.

A spinner only on a terminal: rich's status is a Live display whose thread redraws it 12.5 times a second, and
off a terminal (CI, a pipe, a log file) it draws nothing, so there the thread would run for nothing; plain lines only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from envforge.redact import redact
from envforge.report import verdict_lines
from envforge.result import ERROR, FAILED, PASSED, UNVERIFIED, Step, VerifyResult

_STYLE = {PASSED: "bold green", FAILED: "bold red", ERROR: "bold red", UNVERIFIED: "bold yellow"}


@contextlib.contextmanager
def spinner(console: Any, text: str) -> Iterator[None]:
    """`console.status(text)` while the block runs, on a terminal; nothing elsewhere (no thread)."""
    if not console.is_terminal:
        yield
        return
    with console.status(text):
        yield


class ConsoleProgress:
    """Progress shown on stderr: a spinner while a step runs (on a terminal), a line with its timing when done."""

    def __init__(self, console: Any) -> None:
        self.console = console
        self._status: Any = None
        self._step = ""

    def started(self, step: str) -> None:
        if getattr(self.console, "envforge_quiet", False):  # -q: no progress rows
            return
        self._step = step
        if not self.console.is_terminal:  # the line at done() is all that is shown there
            return
        self._status = self.console.status(f"[bold]{step}[/]…")
        self._status.start()

    def update(self, text: str) -> None:
        if self._status is not None:
            self._status.update(f"[bold]{self._step}[/]: {redact(text)}")

    def done(self, step: Step) -> None:
        if getattr(self.console, "envforge_quiet", False):
            return
        if self._status is not None:
            self._status.stop()
            self._status = None
        detail = f"  [dim]{redact(step.detail)}[/]" if step.detail else ""
        if step.failed:  # the step that raised: the error follows
            detail = "  [bold red]✗ failed[/]" + detail
        self.console.print(f"  [cyan]{step.name:<8}[/] {step.seconds:7.2f} s{detail}", highlight=False)


def print_error(console: Any, message: str, remedy: str | None = None) -> None:
    """An error, once: `envforge: error: ...` and `fix: ...` (the CLI prints them on stderr)."""
    from rich.markup import escape

    console.print(f"[bold red]envforge: error:[/] {escape(redact(message))}", highlight=False)
    if remedy:
        console.print(f"[bold]fix:[/] {escape(redact(remedy))}", highlight=False)


def print_result(console: Any, result: VerifyResult, err: Any = None) -> None:
    """The verdict and what it rests on on `console`; an envforge error once, on `err` (default: `console`)."""
    from rich.markup import escape

    style = _STYLE.get(result.status, "bold")
    if result.error:  # the reason is the error's first line: say it once, where errors go
        print_error(err or console, result.error["message"], result.error.get("remedy"))
        console.print(f"[{style}]{result.status.upper()}[/] {escape(redact(result.uri))} (exit {result.exit_code})", highlight=False)
    else:
        console.print(f"[{style}]{result.status.upper()}[/] {escape(redact(result.uri))}: {escape(redact(result.reason))}",
                      highlight=False)
    if result.status == UNVERIFIED and result.exit_code == 0:
        console.print("  [yellow]unverified exits 0[/]: pass --require-expected to make a model without expectations fail (exit 1)",
                      highlight=False)
    if result.python_version:
        console.print(f"  python {result.python_version} ({escape(result.interpreter_reason or '')}); "
                      f"env {'reused' if result.env_reused else 'built'}: [dim]{result.env_path}[/]", highlight=False)
    if result.resolution:
        moment = result.resolution.get("moment")
        console.print(f"  resolved as of {escape(moment or 'latest')} ({escape(str(result.resolution.get('why')))})", highlight=False)
    if result.baseline:  # a training-env recording or a rebuilt env's: never confused
        from envforge.modeldir.expectations import describe
        from envforge.modeldir.unstored import ORIGINS

        where = f" ({ORIGINS[result.expectations_origin]})" if result.expectations_origin in ORIGINS else ""
        console.print(f"  expectations: recorded in {escape(describe(result.baseline))}{escape(where)} "
                      f"[dim]{escape(redact(result.expectations or ''))}[/]", highlight=False)
    if result.image:  # container backends
        kept = ", ".join(result.image.get("kept") or []) or "none (--tag NAME keeps the image that passed)"
        console.print(f"  image {escape(str(result.image.get('env_image')))}; kept: {escape(kept)}", highlight=False)
    if result.examples:  # where each input came from: the model's example, --input, or synthesized
        inputs = ", ".join(f"{e['name']} ({e.get('source') or '?'}" + (f": {e['detail']}" if e.get("detail") else "") + ")"
                           for e in result.examples)
        console.print(f"  inputs: {escape(redact(inputs))}", highlight=False)
    for warning in result.warnings:
        console.print(f"  [yellow]warning:[/] {escape(redact(warning))}", highlight=False)
    for line in verdict_lines.extra_lines(result):  # env rebuilt, drift, the model's warnings (report/verdict_lines.py)
        console.print(f"  [yellow]{escape(line)}[/]", highlight=False)
    if result.comparison is not None and not result.comparison.ok:
        _print_diffs(console, result)
    if result.model_error:
        _print_model_error(console, result.model_error)


def _print_diffs(console: Any, result: VerifyResult) -> None:
    from rich.table import Table

    assert result.comparison is not None
    table = Table(title="Differences (worst first)", show_lines=False)
    for column in ("example", "where", "kind", "detail"):
        table.add_column(column)
    diffs = result.comparison.diffs
    for diff in diffs[:15]:
        table.add_row(diff.example, diff.location, diff.kind, diff.message)
    console.print(table)
    if len(diffs) > 15:
        console.print(f"  … and {len(diffs) - 15} more (see --json)")


def _print_model_error(console: Any, error: dict[str, Any]) -> None:
    from rich.markup import escape

    where = f" on {error['example']!r}" if error.get("example") else ""
    console.print(f"[bold red]model error[/] ({error.get('stage')}{where}): "
                  f"{escape(str(error.get('type')))}: {escape(str(error.get('message')))}", highlight=False)
    trace = str(error.get("traceback") or "").strip().splitlines()
    if trace:
        console.print("[dim]" + escape("\n".join(trace[-12:])) + "[/]", highlight=False)
