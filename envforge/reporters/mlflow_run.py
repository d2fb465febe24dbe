"""--log-to EXPERIMENT: the run as one MLflow run (registry/mlflow_log.py): per version its status, env key and
seconds, each drift verdict, and the JSON, JUnit and HTML files the reporters before it wrote, as artifacts.
A run MLflow refuses is said after the verdicts (`failure`); the verdicts and the files stand."""

from __future__ import annotations

from envforge.errors import EnvforgeError
from envforge.reporters.stream import Context, Reporter, RunEnded


def reporter(context: Context) -> Reporter | None:
    return MlflowRun(context) if context.log_to else None


class MlflowRun(Reporter):
    def __init__(self, context: Context) -> None:
        self.context = context

    def ended(self, event: RunEnded) -> None:
        from rich.markup import escape

        from envforge.registry import mlflow_log

        context = self.context
        if event.run is None or context.log_to is None:
            return
        files = [p for p in (context.json_path, context.junit_path, context.html_path) if p]
        try:
            run_id = mlflow_log.log_run(event.run, context.tracking_uri, context.log_to, files, started_ms=context.started_ms,
                                        passes=[(s.label, s.run) for s in event.passes], verdicts=event.drift)
        except EnvforgeError as exc:
            self.failure = exc
            return
        context.out.print(f"logged to MLflow: experiment {escape(context.log_to)}, run {run_id}", highlight=False)
