"""The HTML report of a run with several resolutions (`--resolve logged,latest`): each row says which resolution it is
(the rows of one version were identical, chart labels too), and a section says, per version, what the two runs found
in words: "works as logged, breaks with today's packages" where that is the finding."""

from __future__ import annotations

from html import escape
from typing import Any

from envforge.redact import redact
from envforge.registry import drift
from envforge.registry import run_reports as report

# The verdict of registry/drift.py, as the page says it (the JSON and console keep drift's own words).
FINDINGS = {
    drift.STILL_WORKS: "works as logged and with today's packages",
    drift.REPRODUCES: "works as logged; with today's packages it ran, with nothing recorded to compare",
    drift.DRIFTED: "works as logged, breaks with today's packages",
    drift.NEVER: "does not work as logged",
    drift.NO_BASELINE: "ran both ways, with no recorded predictions to compare",
    "interrupted": "interrupted before both runs finished (Ctrl-C): no finding",
}


def rows(steps: list[drift.Pass]) -> list[dict[str, Any]]:
    """report.rows of every resolution's run, each row naming its resolution (`resolve`: logged, latest, a date)."""
    out = []
    for step in steps:
        out += [dict(row, resolve=step.label) for row in report.rows(step.run)]
    return out


def label(resolve: str) -> str:
    return {"logged": "as logged", "latest": "today's packages"}.get(resolve, f"as of {resolve}")


def section(found: list[dict[str, Any]]) -> str:
    """One line per version: its finding, then each resolution's status."""
    if not found:
        return ""
    items = []
    for v in found:
        said = FINDINGS.get(v["verdict"], v["text"])
        statuses = ", ".join(f"{label(k)}: {v[k]}" for k in v["pair"])
        bisect = f" &middot; <code>{escape(redact(v['bisect']))}</code>" if v.get("bisect") else ""
        items.append(f"<li data-verdict='{escape(v['verdict'])}' data-uri='{escape(redact(v['uri']))}'><b>{escape(redact(v['label']))}</b>: "
                     f"{escape(said)} <span class='reason'>({escape(statuses)})</span>{bisect}</li>")
    return "<h2>Per version: as logged and with today's packages</h2><ul id='findings'>" + "".join(items) + "</ul>"
