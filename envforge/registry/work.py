"""One environment group: build (or reuse) its env once, run all its models in one runner
process, judge each model like `envforge verify`: the same steps (commands/verification_steps.py), per model
before the build and after the run, once per group for the env. Runs in a local thread or on a Dask worker,
which resolves the models and builds the env in its own caches."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from envforge.commands import verification_steps as steps
from envforge.commands.verification_steps import Baseline, ModelCheck
from envforge.errors import EnvforgeError
from envforge.registry import interruption
from envforge.registry.pacing import Pacing
from envforge.registry.plan import Group, RegistryOptions, at_once
from envforge.registry.select import Target
from envforge.result import Step, VerifyResult

if TYPE_CHECKING:
    from envforge.backends.base import Env
    from envforge.execution.executor import RunnerOutput

INTERRUPTED = interruption.REASON


@dataclass
class GroupOutcome:
    key: str
    env: str = "failed"           # "built" | "reused" | "failed" | "interrupted" | "skipped" (every model stopped before the build)
    build_seconds: float = 0.0
    resolve_seconds: float = 0.0   # wall time of the group's (cached) resolves, which run at once
    runner_seconds: float = 0.0    # wall time of running every model of the group (one host runner process)
    models_seconds: float = 0.0    # of which loading and predicting, summed over the models (the rest: start-up)
    harvest_seconds: float = 0.0   # storing a new env's fresh .pyc files for the next env (store/bytecode.py)
    warmup_seconds: float = 0.0    # a new env waiting for the run's first new env to be compiled and harvested (registry/pacing.py)
    queued_seconds: float = 0.0    # waiting for a build slot and a run slot (registry/pacing.py: --workers of each)
    total_seconds: float = 0.0     # the whole group, from its first resolve to its last verdict
    worker: str = ""
    results: list[tuple[Target, VerifyResult]] = field(default_factory=list)

    def queued(self, seconds: float) -> None:
        self.queued_seconds += seconds


@dataclass
class _Member:
    target: Target
    check: ModelCheck

    @property
    def result(self) -> VerifyResult:
        return self.check.result


OnJudged = Callable[[Target, VerifyResult], None]


def verify_group(group: Group, options: RegistryOptions, should_stop: Callable[[], bool] | None = None,
                 on_judged: OnJudged | None = None, pacing: Pacing | None = None) -> GroupOutcome:
    """Never raises EnvforgeError: every model of the group comes back with a result. on_judged gets
    each model that ran as soon as it is judged, while the runner goes on with the next (the
    outcome's results hold every model either way). pacing: shared by the groups of one local run
    (build and run slots, one compile of shared package files: registry/pacing.py)."""
    stop = should_stop or (lambda: False)
    outcome = GroupOutcome(key=group.key, worker=f"{socket.gethostname()}:{os.getpid()}")
    members = [_Member(t, ModelCheck(VerifyResult(uri=t.uri, backend=options.backend))) for t in group.targets]
    start = time.perf_counter()
    loaded = at_once(lambda m: _load(m, options), members)
    outcome.resolve_seconds = time.perf_counter() - start
    ready = [m for m, go in zip(members, loaded, strict=True) if go == _BUILD]
    if not ready and _STOPPED in loaded:
        outcome.env = "skipped"  # nothing to build: each model stopped before (files changed, unverifiable, or an error)
    if ready and not stop():
        with ExitStack() as stack:
            _build_and_run(ready, options, outcome, stack, stop, on_judged, pacing or Pacing())
    outcome.total_seconds = time.perf_counter() - start
    if stop():
        outcome.env = "interrupted" if outcome.env == "failed" else outcome.env
        for m in members:
            interruption.settle(m.result, stopped=True)
    outcome.results = [(m.target, m.result) for m in members]
    return outcome


_BUILD, _STOPPED, _FAILED = "build", "stopped", "failed"


def _load(member: _Member, options: RegistryOptions) -> str:
    """Resolve the model and run verify's checks before a build (verification_steps.before_build): _BUILD when
    it goes on to the group's env, _STOPPED when it has its verdict already, _FAILED when it could not be resolved."""
    start, step = time.perf_counter(), Step("resolve", 0.0)
    try:
        steps.resolve(member.check, member.target.uri, step, backend=options.backend, tracking_uri=options.tracking_uri,
                      build=options.build, download=options.download)
    except EnvforgeError as exc:
        member.result.steps.append(Step("resolve", time.perf_counter() - start, "failed"))
        member.result.error_from(exc)
        return _FAILED
    try:
        stopped = steps.before_build(member.check, tracking_uri=options.tracking_uri)
    except EnvforgeError as exc:
        stopped = member.result.error_from(exc)
    step.seconds = time.perf_counter() - start
    member.result.steps.append(step)
    return _BUILD if stopped is None else _STOPPED


def _build_and_run(members: list[_Member], options: RegistryOptions, outcome: GroupOutcome, stack: ExitStack,
                   stop: Callable[[], bool], on_judged: OnJudged | None, pacing: Pacing) -> None:
    from envforge.execution.executor import run_group
    from envforge.store import bytecode
    from envforge.store.usage import note_use

    first = members[0].check.loaded
    env = _build(members, options, outcome, stack, stop, pacing)
    if env is None:
        return
    if len(members) > 1:  # `cache list` names every model of the group, not only the one open_env noted
        note_use(env.path, env.key, *[m.check.loaded.model.uri for m in members[1:]])
    first_compile, shared = pacing.first_compile, None if env.reused else bytecode.shared_files(env.path)
    if first_compile is not None and shared is not None and not bytecode.seeded(env.path):  # seeded: nothing to wait for
        if first_compile.claim(shared):
            stack.callback(first_compile.finished, shared)  # when the group ends: after the harvest below, or a failure
        else:
            outcome.warmup_seconds = first_compile.wait_then_seed(shared, env.path, stop)
    missing = steps.env_checks(env, first.backend)  # once for the group
    for m in members:
        step = Step("build", outcome.build_seconds)
        steps.note_built(m.check, env, missing, step, shared_by=len(members))
        m.result.steps.append(step)
    if stop():
        return

    def judged(i: int, output: RunnerOutput) -> None:
        _judge_one(members[i], output, env, options)
        interruption.settle(members[i].result, stop())  # a runner the stop killed: not the model's failure
        if on_judged:
            on_judged(members[i].target, members[i].result)

    with pacing.slot("run", stop, waited=outcome.queued) as slot:
        if not slot:
            return
        start = time.perf_counter()
        outputs = run_group(first.backend, env, [(m.check.loaded.model.path, m.check.runs) for m in members], options.build, options.run,
                            model_timeout=options.model_timeout, log=lambda text: None, on_output=judged)
        outcome.runner_seconds = time.perf_counter() - start
        outcome.models_seconds = sum(output.seconds for output in outputs)
        if not env.reused:
            start = time.perf_counter()
            bytecode.harvest(env.path)
            outcome.harvest_seconds = time.perf_counter() - start


def _build(members: list[_Member], options: RegistryOptions, outcome: GroupOutcome, stack: ExitStack,
           stop: Callable[[], bool], pacing: Pacing) -> Env | None:
    """The group's env, built (or reused) in a build slot and in use until the stack ends; None when the
    run was stopped first, or when the build failed (each member then has the error)."""
    from envforge.pipeline import open_env

    with pacing.slot("build", stop, waited=outcome.queued) as slot:
        if not slot:
            return None
        start = time.perf_counter()
        try:
            env = stack.enter_context(open_env(members[0].check.loaded, options.build, lambda text: None, run=options.run))
        except EnvforgeError as exc:
            outcome.build_seconds = time.perf_counter() - start
            for m in members:
                m.result.steps.append(Step("build", outcome.build_seconds, "failed"))
                m.result.error_from(exc)
            return None
        outcome.env, outcome.build_seconds = ("reused" if env.reused else "built"), time.perf_counter() - start
    return env


def _judge_one(m: _Member, output: RunnerOutput, env: Env, options: RegistryOptions) -> None:
    """One model's verdict from its runner output, as `envforge verify` would give it (or its baseline
    recorded, with --record-missing)."""
    steps.read_output(m.check, output, env)
    m.result.steps.append(Step("predict", output.seconds, f"{len(output.predictions())} of {len(m.check.runs)} example(s)"))
    steps.verdict(m.check, output, env, options.judging, options.fail_on,
                  baseline=_record_missing(env, options) if options.record_missing else None)


def _record_missing(env: Env, options: RegistryOptions) -> Baseline:
    """--record-missing: a model without expectations that ran cleanly gets its baseline recorded (registry/missing_baselines.py)."""
    from envforge.registry import missing_baselines as baselines

    def record(check: ModelCheck, output: RunnerOutput) -> bool:
        if check.expected is not None or not baselines.recordable(output, check.runs):
            return False
        baselines.record_in_group(check.result, check.loaded, check.runs, output, env, options)
        return True

    return record
