"""What every verdict carries besides its status: the packages that differ from the training env (the
`envforge diff` rows, commands/diff.py) and the warnings the model's process raised (runner/warning_catch.py),
then the `--fail-on` gate (report/gate.py). verify and verify-registry call `note_drift_and_warnings` once
a model is judged."""

from __future__ import annotations

from typing import Any

from envforge.backends.base import Env
from envforge.commands.diff import diff_env
from envforge.execution.executor import RunnerOutput
from envforge.modeldir.expectations import Expectations
from envforge.pipeline import LoadedModel
from envforge.report import gate
from envforge.result import VerifyResult

LISTED = 10  # packages listed by name in the JSON; the summary names the first 5
INSTALLERS = ("pip", "setuptools", "wheel")  # seeded by the env's installer, not asked for by the model: not drift


def note_drift_and_warnings(result: VerifyResult, loaded: LoadedModel, env: Env, expected: Expectations | None,
                            output: RunnerOutput | None, fail_on: tuple[str, ...] = ()) -> VerifyResult:
    if output is not None:
        result.model_warnings = output.warnings
    result.drift = drift_summary(loaded, env, expected)
    return gate.apply(result, fail_on)


def drift_summary(loaded: LoadedModel, env: Env, expected: Expectations | None) -> dict[str, Any] | None:
    """{"count", "summary", "packages": [{"name", "recorded", "installed", "status", "requested"}]}: the model's
    own requirements first; None without a recording of the training env (nothing to compare with)."""
    if expected is None or not expected.freeze:
        return None
    rows = [r for r in diff_env(loaded, env, expected).rows if r.differs and not (r.name in INSTALLERS and r.requested is None)]
    rows.sort(key=lambda r: (r.name != "python", r.requested is None, r.name))  # python, then what the model asks for
    packages = [{"name": r.name, "recorded": r.recorded, "installed": r.installed, "status": r.status,
                 "requested": r.requested} for r in rows]
    if not rows:
        return {"count": 0, "summary": "no package differs from the training environment", "packages": []}
    named = ", ".join(f"{r.name} {r.recorded or 'none'} → {r.installed or 'none'}" for r in rows[:5])
    more = f" (+{len(rows) - 5} more)" if len(rows) > 5 else ""
    summary = f"{len(rows)} package(s) differ from the training environment: {named}{more}"
    return {"count": len(rows), "summary": summary, "packages": packages[:LISTED]}
