"""--json FILE: every verdict (report/json_report.py's document); for verify-registry also a `registry` section:
the run's counts, environments and rows, the changes since --previous, each resolution's summary and the drift
verdicts. Written once, whole, at the run's end."""

from __future__ import annotations

import json
from typing import Any

from envforge.reporters.stream import Context, Reporter, RunEnded


def reporter(context: Context) -> Reporter | None:
    return JsonFile(context) if context.json_path else None


class JsonFile(Reporter):
    def __init__(self, context: Context) -> None:
        self.path = context.json_path

    def ended(self, event: RunEnded) -> None:
        from envforge.report.json_report import document, write_json

        assert self.path is not None
        if event.run is None:
            write_json(event.results, self.path)  # verify: strict JSON, nothing else in it
            return
        whole = document(event.results)
        whole["registry"] = registry_section(event)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(whole, indent=2, allow_nan=False, default=str))


def registry_section(event: RunEnded) -> dict[str, Any]:
    from envforge.registry import drift
    from envforge.registry.run_reports import rows

    run = event.run
    return {"summary": run.counts(), "environments": run.env_counts(), "interrupted": run.interrupted,
            "seconds": round(run.seconds, 3), "plan_seconds": round(run.plan_seconds, 3), "envs": run.envs, "models": rows(run),
            "changes": event.changes or [],
            "resolutions": [{"resolve": s.label, "summary": s.run.counts(), "environments": s.run.env_counts(),
                             "seconds": round(s.run.seconds, 3)} for s in event.passes],
            "verdicts": event.drift, "baselines_recorded": drift.recorded(run)}
