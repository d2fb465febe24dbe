"""What verify-registry's reports show of a run besides each verdict: a flat row per version (the HTML table, the
JSON's `registry.models`), and what changed since a previous run's --json. The files: envforge/reporters/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from envforge.errors import UsageError
from envforge.registry.run import RegistryRun
from envforge.report import verdict_lines
from envforge.result import VerifyResult


def rows(run: RegistryRun) -> list[dict[str, Any]]:
    """One flat row per model version: what the HTML table and the `registry` JSON section show."""
    out = []
    for target, result in run.results:
        steps = {s.name: s.seconds for s in result.steps}
        out.append({
            "uri": result.uri, "label": target.label, "model": target.name or result.uri, "version": target.version,
            "aliases": list(target.aliases), "backend": result.backend, "status": result.status, "reason": result.reason,
            "build_seconds": round(steps.get("build", 0.0), 3), "predict_seconds": round(steps.get("predict", 0.0), 3),
            "worst_diff": worst_diff(result), "env_key": result.env_key,
            "resolved_as_of": (result.resolution or {}).get("moment"),
            "notes": verdict_lines.extra_lines(result),  # env rebuilt, drift, the model's warnings
        })
    return out


def worst_diff(result: VerifyResult) -> float | str | None:
    """The largest absolute difference over all examples; a kind ("shape", "dtype"...) when the
    worst difference is not numeric; None when nothing was compared."""
    comparison = result.comparison
    if comparison is None:
        return None
    diffs = comparison.diffs
    if not diffs:
        return 0.0
    numeric = [d.max_abs for d in diffs if d.max_abs is not None]
    return max(numeric) if numeric and diffs[0].max_abs is not None else diffs[0].kind


def load_previous(path: Path) -> dict[str, str]:
    """uri -> status from an earlier run's --json (of verify-registry or verify)."""
    try:
        document = json.loads(path.read_text())
        return {str(r["uri"]): str(r["status"]) for r in document["results"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"--previous {path} is not a report written by envforge --json ({exc}).",
                         "Pass the JSON file of an earlier verify-registry run.") from None


def changes(previous: dict[str, str], run: RegistryRun) -> list[dict[str, str]]:
    """What changed status since the previous run: new, changed, and no longer selected versions."""
    out = []
    current = {r.uri: (t.label, r.status) for t, r in run.results}
    for uri, (label, status) in current.items():
        before = previous.get(uri, "new")
        if before != status:
            out.append({"uri": uri, "label": label, "before": before, "after": status})
    out += [{"uri": u, "label": u, "before": s, "after": "gone"} for u, s in previous.items() if u not in current]
    return out
