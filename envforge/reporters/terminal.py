"""The console: each verdict as it is judged, the run's summary at its end, then the files written."""

from __future__ import annotations

from typing import Any

from envforge.reporters.stream import VERIFY, Context, Reporter, RunEnded, Verdict


def reporter(context: Context) -> Reporter | None:
    return Terminal(context) if context.console else None


class Terminal(Reporter):
    def __init__(self, context: Context) -> None:
        self.context = context

    def verdict(self, event: Verdict) -> None:
        if self.context.command == VERIFY:
            from envforge.report.console import print_result

            print_result(self.context.out, event.result, self.context.err)
        elif not self.context.quiet:
            prefix = f"[{event.resolve}] " if event.resolve else ""
            show_result(self.context.err, prefix + event.label, event.result)

    def ended(self, event: RunEnded) -> None:
        if self.context.command == VERIFY:
            return
        from rich.markup import escape

        from envforge.registry import drift

        out = self.context.out
        for change in event.changes or []:
            out.print(f"changed: {escape(change['label'])}: {change['before']} -> {change['after']}", highlight=False)
        for label in drift.recorded(event.run):
            out.print(f"baseline recorded: {escape(label)}", highlight=False)
        for v in event.drift:
            style = "red" if v["verdict"] in drift.BAD else "green" if v["verdict"] != drift.NO_BASELINE else "yellow"
            out.print(f"[{style}]{escape(v['text'])}[/]: {escape(v['label'])}", highlight=False)
        for line in (drift.summary(event.passes, event.drift) if len(event.passes) > 1 else [event.run.summary()]):
            out.print(escape(line), highlight=False)

    def closed(self) -> None:
        """"wrote ..." once every file is written (verify says it unless -q)."""
        from rich.markup import escape

        from envforge.redact import redact

        asked = [p for p in self.context.asked if p]
        if asked and not (self.context.command == VERIFY and self.context.quiet):
            text = "wrote " + ", ".join(self.context.shown(p) for p in asked)
            self.context.out.print(escape(redact(text)), highlight=False)


def show_result(err: Any, label: str, result: Any) -> None:
    """One version's verdict as it is judged, then what every report carries besides it (a rebuilt env's reason,
    the drift, the model's warnings: report/verdict_lines.py), indented under it."""
    from rich.markup import escape

    from envforge.report.verdict_lines import extra_lines

    style = {"passed": "green", "failed": "red", "error": "red"}.get(result.status, "yellow")
    err.print(f"[bold {style}]{result.status.upper():<10}[/] {escape(label)}: {escape(result.reason)}", highlight=False)
    for line in extra_lines(result):
        err.print(f"{'':<11}{escape(line)}", highlight=False)
