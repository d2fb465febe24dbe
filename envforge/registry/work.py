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
from typing import Any

from envforge.errors import EnvBuildError, EnvforgeError
from envforge.registry.plan import Group, RegistryOptions, error_result
from envforge.registry.select import Target
from envforge.result import Step, VerifyResult

INTERRUPTED = "interrupted before it finished (Ctrl-C)"


@dataclass
class GroupOutcome:
    key: str
    env: str = "failed"           # "built" | "reused" | "failed" | "interrupted"
    build_seconds: float = 0.0
    worker: str = ""
    results: list[tuple[Target, VerifyResult]] = field(default_factory=list)


@dataclass
class _Member:
    target: Target
    result: VerifyResult
    loaded: Any = None
    runs: list[dict[str, Any]] = field(default_factory=list)


def verify_group(group: Group, options: RegistryOptions, should_stop: Callable[[], bool] | None = None) -> GroupOutcome:
    """Never raises EnvforgeError: every model of the group comes back with a result."""
    stop = should_stop or (lambda: False)
    outcome = GroupOutcome(key=group.key, worker=f"{socket.gethostname()}:{os.getpid()}")
    members = [_Member(t, VerifyResult(uri=t.uri, backend=options.backend)) for t in group.targets]
    ready = [m for m in members if _load(m, options)]
    if ready and not stop():
        with ExitStack() as stack:
            _build_and_run(ready, options, outcome, stack, stop)
    if stop():
        outcome.env = "interrupted" if outcome.env == "failed" else outcome.env
        for m in members:
            if _unfinished(m.result):
                error_result(m.result, EnvBuildError(INTERRUPTED, "Run verify-registry again."))
    outcome.results = [(m.target, m.result) for m in members]
    return outcome


def _unfinished(result: VerifyResult) -> bool:
    """After a stop: never judged, or its build or runner was killed by the stop."""
    steps = {s.name for s in result.steps}
    killed = ("build" in steps and "predict" not in steps) or result.reason.startswith("the model failed to load: RunnerError")
    return not result.reason or killed


def _load(member: _Member, options: RegistryOptions) -> bool:
    from envforge.envs import load_model

    start = time.perf_counter()
    try:
        member.loaded = load_model(member.target.uri, backend=options.backend, tracking_uri=options.tracking_uri,
                                   build=options.build)
    except EnvforgeError as exc:
        member.result.steps.append(Step("resolve", time.perf_counter() - start, "failed"))
        error_result(member.result, exc)
        return False
    model, spec = member.loaded.model, member.loaded.spec
    member.result.steps.append(Step("resolve", time.perf_counter() - start, "cached" if model.from_cache else "downloaded"))
    member.result.model_dir, member.result.env_key, member.result.logged_python = str(model.path), spec.key, spec.python
    member.result.warnings += list(spec.notes) + list(member.loaded.as_of_warnings)
    member.result.resolution = member.loaded.as_of.to_dict() if member.loaded.as_of else None
    return True


def _build_and_run(members: list[_Member], options: RegistryOptions, outcome: GroupOutcome, stack: ExitStack,
                   stop: Callable[[], bool]) -> None:
    from envforge import bytecode, diagnose
    from envforge.asof import effective
    from envforge.envs import open_env
    from envforge.predict import run_runner_many
    from envforge.verify import examples_to_run, judge_output

    first = members[0].loaded
    start = time.perf_counter()
    try:
        env = stack.enter_context(open_env(first, options.build, lambda text: None))
    except EnvforgeError as exc:
        seconds = time.perf_counter() - start
        outcome.build_seconds = seconds
        for m in members:
            m.result.steps.append(Step("build", seconds, "failed"))
            error_result(m.result, exc)
        return
    outcome.env, outcome.build_seconds = ("reused" if env.reused else "built"), time.perf_counter() - start
    shared = f"shared by {len(members)} model(s)"
    detail = f"reused ({shared})" if env.reused else f"built in {env.build_seconds:.1f} s ({shared})"
    vopts = _verify_options(options)
    runnable = []
    for m in members:
        m.result.steps.append(Step("build", outcome.build_seconds, detail))
        m.result.env_path, m.result.env_reused = str(env.path), env.reused
        m.result.python_version, m.result.interpreter_reason = env.python_version, env.interpreter_reason
        if env.interpreter_warning:
            m.result.warnings.append(env.interpreter_warning)
        m.result.warnings += list(env.notes)
        really = effective(m.loaded.as_of, env.resolved_as_of)
        m.result.resolution = really.to_dict() if really else None
        try:
            m.runs = examples_to_run(m.loaded.model.path, m.loaded.mlmodel, vopts)
            runnable.append(m)
        except EnvforgeError as exc:
            error_result(m.result, exc)
    if not runnable or stop():
        return
    command = first.backend.command(env.path, env.python, ["python", "-I"])
    outputs = run_runner_many(command, [(m.loaded.model.path, m.runs) for m in runnable], model_timeout=options.model_timeout)
    for m, output in zip(runnable, outputs, strict=True):
        diagnose.annotate(output.data, env.installed, m.loaded.spec)
        m.result.runner_python = output.data.get("python")
        m.result.steps.append(Step("predict", output.seconds, f"{len(output.predictions())} of {len(m.runs)} example(s)"))
        judge_output(m.result, output, m.loaded.model.path, m.loaded.mlmodel, vopts, m.runs)
    if not env.reused:
        bytecode.harvest(env.path)


def _verify_options(options: RegistryOptions) -> Any:
    from envforge.verify import VerifyOptions

    return VerifyOptions(backend=options.backend, tracking_uri=options.tracking_uri, require_expected=options.require_expected,
                         rtol=options.rtol, atol=options.atol, predict_timeout=options.model_timeout, build=options.build)
