"""A verify-registry run of two resolutions (logged, latest) over three versions, built in memory: one still works,
one drifted (its latest pass fails), one never worked; what the report writers get at the end of such a run."""

from __future__ import annotations

from envforge.registry import drift
from envforge.registry.plan import RegistryOptions
from envforge.registry.run import RegistryRun
from envforge.registry.select import Target
from envforge.result import ERROR, FAILED, PASSED, Step, VerifyResult

TARGETS = [Target(uri=f"models:/churn/{v}", name="churn", version=str(v)) for v in (1, 2, 3)]
OUTCOMES = {"logged": (PASSED, PASSED, ERROR), "latest": (PASSED, FAILED, ERROR)}


def _result(target: Target, status: str, resolve: str) -> VerifyResult:
    result = VerifyResult(uri=target.uri, backend="uv", steps=[Step("build", 1.5), Step("predict", 0.25)])
    result.started_at = "2026-12-06T00:00:00Z"
    result.env_key = f"key-{resolve}"
    reason = {PASSED: "2 example(s) match", FAILED: "1 example(s) differ", ERROR: "the env could not be built"}[status]
    result.finish(status, f"{reason} as of {resolve}")
    result.finished_at = "2026-12-06T00:00:02Z"
    return result


def passes() -> list[drift.Pass]:
    steps = drift.passes(RegistryOptions(tracking_uri="http://registry.example:5000"), ("logged", "latest"))
    for step in steps:
        step.run = RegistryRun(results=[(t, _result(t, s, step.label)) for t, s in zip(TARGETS, OUTCOMES[step.label], strict=True)],
                               envs=[{"key": f"key-{step.label}", "status": "built", "seconds": 1.5}], seconds=3.0)
    return steps
