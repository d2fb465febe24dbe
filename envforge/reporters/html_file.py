"""--html FILE (verify-registry): one self-contained page (registry/html.py): the table of every version (each row
naming its resolution when there are several), the drift findings, and with --log-to the last nights from MLflow."""

from __future__ import annotations

from envforge.reporters.stream import Context, Reporter, RunEnded


def reporter(context: Context) -> Reporter | None:
    return HtmlFile(context) if context.html_path else None


class HtmlFile(Reporter):
    def __init__(self, context: Context) -> None:
        self.context = context

    def ended(self, event: RunEnded) -> None:
        from envforge.registry import html, html_drift
        from envforge.registry.run_reports import rows

        if event.run is None or self.context.html_path is None:
            return
        run, context = event.run, self.context
        extra = html_drift.section(event.drift) + (self._trend(event) if context.log_to else "")
        table = html_drift.rows(event.passes) if len(event.passes) > 1 else rows(run)  # each row names its resolution
        html.write_html(context.html_path, table, run.summary(), event.changes or [], extra=extra,
                        tracking_uri=context.tracking_uri or None)

    def _trend(self, event: RunEnded) -> str:
        """The last-nights section, from the runs --log-to logged before this one."""
        import datetime

        from envforge.registry import trend

        context = self.context
        assert context.log_to is not None
        tonight = datetime.datetime.fromtimestamp(context.started_ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
        return trend.section(event.run, trend.try_history(context.tracking_uri, context.log_to), tonight, context.log_to)
