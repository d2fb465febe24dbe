"""verify-registry from selection to results: select -> plan -> execute, as data (RegistryRun)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from envforge.building import same_resolution
from envforge.errors import EXIT_FAILED
from envforge.registry.exit_rule import not_passed_code
from envforge.registry.plan import Plan, RegistryOptions
from envforge.registry.select import Target
from envforge.registry.work import GroupOutcome
from envforge.report import gate
from envforge.result import ERROR, FAILED, INTERRUPTED, PASSED, UNVERIFIED, VerifyResult

OnResult = Callable[[Target, VerifyResult], None]


@dataclass
class RegistryRun:
    results: list[tuple[Target, VerifyResult]] = field(default_factory=list)
    envs: list[dict[str, object]] = field(default_factory=list)   # one per group: key, status, seconds, worker, models
    interrupted: bool = False
    seconds: float = 0.0
    plan_seconds: float = 0.0   # resolving every version before any group starts (registry/plan.py)

    def counts(self) -> dict[str, int]:
        counts = {PASSED: 0, FAILED: 0, ERROR: 0, UNVERIFIED: 0}
        for _, result in self.results:
            counts[result.status] = counts.get(result.status, 0) + 1
        return counts

    def env_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {"built": 0, "reused": 0, "failed": 0, "interrupted": 0}
        for env in self.envs:
            counts[str(env["status"])] = counts.get(str(env["status"]), 0) + 1
        return counts

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        code = gate.run_exit_code([r.exit_code for _, r in self.results])  # all passed, or one --fail-on gate alone
        return not_passed_code([r for _, r in self.results]) if code == EXIT_FAILED else code  # all errored alike: their code

    def summary(self) -> str:
        c, e = self.counts(), self.env_counts()
        text = (f"{c[PASSED]} passed, {c[FAILED]} failed, {c[ERROR]} error, {c[UNVERIFIED]} unverified; "
                f"environments: {e['built']} built, {e['reused']} reused, {e['failed']} failed to build")
        cut = f"; {c[INTERRUPTED]} interrupted" if c.get(INTERRUPTED) else ""
        return text + cut + (" (interrupted: partial results)" if self.interrupted else "")


def timing(outcome: GroupOutcome) -> dict[str, float]:
    """Where one group's time went, in seconds: resolve (its cached models, at once), build (or
    reuse), runner (all its models in one process), of which models (loads and predicts summed)
    and start_up (the runner's own start: the interpreter, importing mlflow); harvest (a new env's
    bytecode stored); warmup (a new env waiting for the run's first new env: registry/pacing.py); queued
    (waiting for a build slot and a run slot: --workers of each); total (the group, end to end) and other
    (total less the steps above: reading expectations, judging, the runner's answer)."""
    start_up = max(0.0, outcome.runner_seconds - outcome.models_seconds)
    steps = (outcome.resolve_seconds + outcome.build_seconds + outcome.runner_seconds + outcome.harvest_seconds
             + outcome.warmup_seconds + outcome.queued_seconds)
    return {name: round(value, 3) for name, value in (
        ("resolve", outcome.resolve_seconds), ("build", outcome.build_seconds), ("runner", outcome.runner_seconds),
        ("models", outcome.models_seconds), ("start_up", start_up), ("harvest", outcome.harvest_seconds),
        ("warmup", outcome.warmup_seconds), ("queued", outcome.queued_seconds), ("total", outcome.total_seconds),
        ("other", max(0.0, outcome.total_seconds - steps)))}


def execute(plan: Plan, options: RegistryOptions, *, executor: str = "local", workers: int | None = None,
            scheduler: str | None = None, on_result: OnResult | None = None) -> RegistryRun:
    """Run every group of the plan; each result arrives (on_result, once per version) as soon as it
    is known: with the local executor as each model is judged, with Dask as its group finishes.
    Ctrl-C stops the run and returns what finished, the rest marked as interrupted."""
    from envforge.registry.group_runners import default_workers, run_dask, run_local

    run = RegistryRun()
    start = time.monotonic()
    finished: dict[str, tuple[Target, VerifyResult]] = {}
    told: set[str] = set()
    lock = threading.Lock()  # group threads and the main thread both report

    def tell(target: Target, result: VerifyResult) -> None:
        with lock:
            if target.uri in told:
                return
            told.add(target.uri)
            if on_result:
                on_result(target, result)

    def on_done(outcome: GroupOutcome) -> None:
        run.envs.append({"key": outcome.key, "status": outcome.env, "seconds": round(outcome.build_seconds, 3),
                         "worker": outcome.worker, "models": [t.label for t, _ in outcome.results],
                         "timing": timing(outcome)})
        for target, result in outcome.results:
            finished[target.uri] = (target, result)
            tell(target, result)

    for target, result in plan.unplanned:
        finished[target.uri] = (target, result)
        tell(target, result)
    if executor == "dask":
        run.interrupted = run_dask(plan.groups, options, scheduler, on_done)
    else:
        run.interrupted = run_local(plan.groups, options, workers or default_workers(), on_done, tell)
    run.results = [finished[t.uri] for t in plan.targets if t.uri in finished]
    same_resolution.settle()  # the resolutions the plan recorded in the background (building/distinct_pins.py)
    run.seconds = time.monotonic() - start
    return run
