"""One environment group: build (or reuse) its env once, run all its models in one runner
process, judge each model like `envforge verify`. Runs in a local thread or on a Dask worker,
which resolves the models and builds the env in its own caches."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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
    env: str = "failed"           # "built" | "reused" | "failed" | "interrupted"
    build_seconds: float = 0.0
    resolve_seconds: float = 0.0   # wall time of the group's (cached) resolves, which run at once
    runner_seconds: float = 0.0    # wall time of running every model of the group (one host runner process)
    models_seconds: float = 0.0    # of which loading and predicting, summed over the models (the rest: start-up)
    harvest_seconds: float = 0.0   # storing a new env's fresh .pyc files for the next env (store/bytecode.py)
    warmup_seconds: float = 0.0    # a new env waiting for the run's first new env to be compiled and harvested (registry/pacing.py)
    total_seconds: float = 0.0     # the whole group, from its first resolve to its last verdict
    worker: str = ""
    results: list[tuple[Target, VerifyResult]] = field(default_factory=list)


@dataclass
class _Member:
    target: Target
    result: VerifyResult
    loaded: Any = None
    expected: Any = None
    runs: list[dict[str, Any]] = field(default_factory=list)


OnJudged = Callable[[Target, VerifyResult], None]


def verify_group(group: Group, options: RegistryOptions, should_stop: Callable[[], bool] | None = None,
                 on_judged: OnJudged | None = None, pacing: Pacing | None = None) -> GroupOutcome:
    """Never raises EnvforgeError: every model of the group comes back with a result. on_judged gets
    each model that ran as soon as it is judged, while the runner goes on with the next (the
    outcome's results hold every model either way). pacing: shared by the groups of one local run
    (build and run slots, one compile of shared package files: registry/pacing.py)."""
    stop = should_stop or (lambda: False)
    outcome = GroupOutcome(key=group.key, worker=f"{socket.gethostname()}:{os.getpid()}")
    members = [_Member(t, VerifyResult(uri=t.uri, backend=options.backend)) for t in group.targets]
    start = time.perf_counter()
    loaded = at_once(lambda m: _load(m, options), members)
    outcome.resolve_seconds = time.perf_counter() - start
    ready = [m for m, ok in zip(members, loaded, strict=True) if ok]
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


def _load(member: _Member, options: RegistryOptions) -> bool:
    from envforge.pipeline import load_model, note_model

    start = time.perf_counter()
    try:
        member.loaded = load_model(member.target.uri, backend=options.backend, tracking_uri=options.tracking_uri,
                                   build=options.build)
    except EnvforgeError as exc:
        member.result.steps.append(Step("resolve", time.perf_counter() - start, "failed"))
        member.result.error_from(exc)
        return False
    step = Step("resolve", time.perf_counter() - start)
    note_model(member.result, member.loaded, step)
    member.result.steps.append(step)
    return True


def _build_and_run(members: list[_Member], options: RegistryOptions, outcome: GroupOutcome, stack: ExitStack,
                   stop: Callable[[], bool], on_judged: OnJudged | None, pacing: Pacing) -> None:
    from envforge.execution.executor import run_group
    from envforge.pipeline import find_expectations, inputs_to_run, note_env
    from envforge.store import bytecode

    first = members[0].loaded
    env = _build(members, options, outcome, stack, stop, pacing)
    if env is None:
        return
    first_compile, shared = pacing.first_compile, None if env.reused else bytecode.shared_files(env.path)
    if first_compile is not None and shared is not None and not bytecode.seeded(env.path):  # seeded: nothing to wait for
        if first_compile.claim(shared):
            stack.callback(first_compile.finished, shared)  # when the group ends: after the harvest below, or a failure
        else:
            outcome.warmup_seconds = first_compile.wait_then_seed(shared, env.path, stop)
    runnable = []
    for m in members:
        step = Step("build", outcome.build_seconds)
        note_env(m.result, env, step, shared_by=len(members), as_of=m.loaded.as_of)
        m.result.steps.append(step)
        try:
            m.expected = find_expectations(m.loaded.model.path, None, options.tracking_uri)
            m.runs = inputs_to_run(m.loaded.model.path, m.loaded.mlmodel, m.expected, ())
            runnable.append(m)
        except EnvforgeError as exc:
            m.result.error_from(exc)
    if not runnable or stop():
        return
    def judged(i: int, output: RunnerOutput) -> None:
        _judge_one(runnable[i], output, env, options)
        interruption.settle(runnable[i].result, stop())  # a runner the stop killed: not the model's failure
        if on_judged:
            on_judged(runnable[i].target, runnable[i].result)

    with pacing.slot("run", stop) as slot:
        if not slot:
            return
        start = time.perf_counter()
        outputs = run_group(first.backend, env, [(m.loaded.model.path, m.runs) for m in runnable], options.build,
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

    with pacing.slot("build", stop) as slot:
        if not slot:
            return None
        start = time.perf_counter()
        try:
            env = stack.enter_context(open_env(members[0].loaded, options.build, lambda text: None))
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
    from envforge.commands.verdict_notes import note_drift_and_warnings
    from envforge.execution import diagnose
    from envforge.execution.executor import note_sandbox
    from envforge.pipeline import judge
    from envforge.registry import baselines

    if output.executor is not None:
        note_sandbox(m.result, output.executor)  # the `sandbox` section and the "ran unconfined" warning, as verify's
    diagnose.annotate(output.data, env.installed, m.loaded.spec)
    m.result.runner_python = output.data.get("python")
    m.result.steps.append(Step("predict", output.seconds, f"{len(output.predictions())} of {len(m.runs)} example(s)"))
    if m.expected is None and options.record_missing and baselines.recordable(output, m.runs):
        baselines.record_in_group(m.result, m.loaded, m.runs, output, env, options)
    else:
        judge(m.result, output, m.expected, m.runs, options.judging)
    note_drift_and_warnings(m.result, m.loaded, env, m.expected, output, options.fail_on)  # drift, warnings, --fail-on
