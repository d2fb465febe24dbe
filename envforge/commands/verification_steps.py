"""The steps of a model's verification around resolve -> env -> run -> judge, written once (issue 28).

`envforge verify` (commands/verify.py) runs them for one model; verify-registry (registry/work.py) for every
model of a group that shares one env, built once and run in one runner process. A step added here reaches
both, so that their results carry the same sections. Each model's verification in progress is a ModelCheck:

1. `before_build(check, ...)`, per model, once it is resolved (`check.loaded`): its expectations, its files
   against the recorded digests (commands/artifact_gate.py: FAILED `artifact-changed`), the inputs it runs,
   and what the machine must provide (execution/platform_checks.py: UNVERIFIED, or an error raised);
2. `env_checks(env, backend)` once per env, then `note_built(check, env, missing, ...)` per model: the env's
   part of the result and the shared libraries the machine lacks (`build` does both for a group of one);
3. `read_output(check, output, env)` per model: what its runner's answer says besides predictions (sandbox,
   the known cause of a load error, a module the pickle needs), then `verdict(check, output, env, ...)`:
   judge (or a baseline hook), the digest rule, drift and model warnings with --fail-on, and missing native
   libraries as the verdict of a failed load.

`resolve` (pipeline.load_model and note_model), `find_expected`, `build` and `run` (the predict step) are the
chain itself, which serve-check composes too (resolve, find_expected, build: it serves instead of running);
`run_unjudged` is the build and predict steps without a result or a verdict: record's baseline in a rebuilt
env (commands/baseline.py) and bisect's probes (commands/bisect_probe.py).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from envforge.backends.base import Backend, BuildOptions, Env, Executor, Log
from envforge.backends.native_libs import Missing
from envforge.backends.run_options import RunOptions
from envforge.commands import implied_checks
from envforge.commands.artifact_gate import check_artifacts, settle
from envforge.commands.verdict_notes import note_drift_and_warnings
from envforge.execution import diagnose, platform_checks
from envforge.execution.executor import RunnerOutput, execute_runner, note_sandbox, open_executor
from envforge.execution.head_start import HeadStart
from envforge.execution.head_start import start as start_ahead
from envforge.modeldir.expectations import Expectations
from envforge.modeldir.input_policy import one_source
from envforge.pipeline import Judging, LoadedModel, env_as_of, find_expectations, judge, load_model, note_env, note_model, open_env
from envforge.progress import Progress
from envforge.result import UNVERIFIED, Step, VerifyResult


@dataclass
class ModelCheck:
    """One model's verification in progress: its result, and what the steps found on the way."""

    result: VerifyResult
    loaded: LoadedModel | None = None  # set once resolved (pipeline.load_model)
    expected: Expectations | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)  # shared libraries the env needs and the machine lacks


# A verdict other than the comparison's: True when it judged the model itself (verify-registry --record-missing).
Baseline = Callable[[ModelCheck, RunnerOutput], bool]


def resolve(check: ModelCheck, uri: str, step: Step | None = None, **load: Any) -> LoadedModel:
    """The resolve and spec steps (pipeline.load_model with `load`'s keywords), noted in the model's result."""
    check.loaded = load_model(uri, **load)
    note_model(check.result, check.loaded, step)
    return check.loaded


@dataclass
class Ahead:
    """A group of one's runner, started before the checks (execution/head_start.py): `start()` once the model is
    resolved (in its env if already built), `start(env)` once the build step has the env (a new or rebuilt env);
    each stopped when `stack` ends unless `run` handed it its request (`current`)."""

    stack: ExitStack
    loaded: LoadedModel
    limits: RunOptions
    timeout: float
    current: HeadStart | None = None

    def start(self, env: Env | None = None) -> None:
        if self.current is not None and env is not None and self.current.fits(env):
            return
        if self.current is not None:
            self.current.abort()
        self.current = start_ahead(self.loaded.backend, self.loaded.spec, self.loaded.model.path, self.limits, self.timeout, env)
        if self.current is not None:
            self.stack.callback(self.current.abort)

    def drop(self) -> None:
        """Stop the runner started ahead (its env is about to be wiped: building/cached_envs.Early)."""
        if self.current is not None:
            self.current.abort()
            self.current = None


def find_expected(check: ModelCheck, expected: str | None = None, tracking_uri: str | None = None) -> Expectations | None:
    """What the model's predictions are compared with (--expected, else those stored with it)."""
    assert check.loaded is not None, "find_expected: the model is resolved first"
    check.expected = find_expectations(check.loaded.model.path, expected, tracking_uri)
    return check.expected


def before_build(check: ModelCheck, *, expected: str | None = None, tracking_uri: str | None = None,
                 inputs: tuple[str, ...] = (), synthesize: bool = True) -> VerifyResult | None:
    """The model's finished result when it stops before any build (its files are not the recorded ones:
    FAILED; it cannot be verified here: UNVERIFIED), else None. Raises EnvforgeError for what no build can
    fix (declared artifacts missing, no Java runtime)."""
    loaded = check.loaded
    assert loaded is not None, "before_build: the model is resolved first"
    find_expected(check, expected, tracking_uri)
    if (changed := check_artifacts(check.result, loaded.model, check.expected)) is not None:
        return changed
    check.runs = one_source(loaded.model.path, loaded.mlmodel, check.expected, inputs, synthesize)
    reason = platform_checks.before_build(loaded.model.path, loaded.mlmodel, loaded.spec, loaded.backend)
    return check.result.finish(UNVERIFIED, reason) if reason else None


def env_checks(env: Env, backend: Backend) -> list[Missing]:
    """What the built env needs from the machine and lacks (once per env)."""
    return platform_checks.missing_native(env, backend)


def note_built(check: ModelCheck, env: Env, missing: list[Missing], step: Step | None = None, shared_by: int = 1) -> None:
    """The env's part of one model's result (pipeline.note_env) and the native libraries it lacks."""
    assert check.loaded is not None
    note_env(check.result, env, step, shared_by=shared_by, as_of=env_as_of(check.loaded, env))
    check.missing = missing
    platform_checks.note_native(check.result, missing)


def build(stack: ExitStack, check: ModelCheck, options: BuildOptions, log: Log, step: Step | None = None, *,
          limits: RunOptions, machine_checks: bool = True, ahead: Ahead | None = None) -> Env:
    """The build step of a group of one: the model's env built (or reused), in use until `stack` ends, and
    noted in its result (note_built); `machine_checks` off skips env_checks (serve-check's verdict does not
    name the shared libraries a failed load lacked). `ahead`: its runner started once the env is ready, before
    its checks (a new env's: while the index confirms its install, building/cached_envs.Early)."""
    assert check.loaded is not None, "build: the model is resolved first"
    env = stack.enter_context(open_env(check.loaded, options, log, run=limits, early=ahead))
    if ahead is not None:
        ahead.start(env)
    note_built(check, env, env_checks(env, check.loaded.backend) if machine_checks else [], step)
    return env


def run(stack: ExitStack, loaded: LoadedModel, env: Env, runs: list[dict[str, Any]], options: BuildOptions, limits: RunOptions, *,
        timeout: float, log: Log, result: VerifyResult | None = None, freeze: bool = False,
        head: HeadStart | None = None) -> tuple[Executor, RunnerOutput]:
    """The predict step: the model's runner in the env's executor (open until `stack` ends, for its `finish`),
    `runs` run in it; with `result`, the sandbox it runs in is noted before the run and again after it (what the
    run found out: a sandbox that could not start). `head`: a runner started ahead (execution/head_start.py),
    used when it runs in this very env, else stopped."""
    if head is not None and not (head.fits(env) and head.ready()):
        head.abort()
        head = None
    executor = head.executor if head is not None else stack.enter_context(
        open_executor(loaded.backend, env, loaded.model.path, options, limits, log))
    if result is not None:
        note_sandbox(result, executor)
    try:
        return executor, execute_runner(executor, runs, timeout=timeout, freeze=freeze, head=head)
    finally:
        if result is not None:
            note_sandbox(result, executor)


def run_unjudged(loaded: LoadedModel, options: BuildOptions, limits: RunOptions, runs: list[dict[str, Any]], *, timeout: float,
                 log: Log | None = None, freeze: bool = False) -> tuple[Env, RunnerOutput]:
    """The build and predict steps with no result to note and no verdict (record's baseline, bisect's probes):
    the env built (or reused), `runs` run in it, no image kept."""
    say = log or (lambda text: None)
    with ExitStack() as stack:
        env = stack.enter_context(open_env(loaded, options, say, run=limits))
        executor, output = run(stack, loaded, env, runs, options, limits, timeout=timeout, log=say, freeze=freeze)
        executor.finish(False)
        return env, output


def read_output(check: ModelCheck, output: RunnerOutput, env: Env) -> None:
    """What the runner's answer says besides the predictions: the sandbox it ran in (when the output names
    its executor), a known cause of a load error, a module the pickle imports and no requirement provides,
    and the Python the model really ran on."""
    assert check.loaded is not None
    if output.executor is not None:
        note_sandbox(check.result, output.executor)  # the `sandbox` section and the "ran unconfined" warning
    diagnose.annotate(output.data, env.installed, check.loaded.spec)
    implied_checks.annotate(output.data, check.loaded.spec, check.loaded.model.path)
    check.result.runner_python = output.data.get("python")


def verdict(check: ModelCheck, output: RunnerOutput, env: Env, how: Judging, fail_on: tuple[str, ...] = (),
            progress: Progress | None = None, baseline: Baseline | None = None) -> VerifyResult:
    """The model's verdict from its runner output: judged (or by `baseline`), then everything a verdict carries."""
    assert check.loaded is not None
    if baseline is None or not baseline(check, output):
        judge(check.result, output, check.expected, check.runs, how, progress)
    result = settle(check.result, check.expected, how.require_expected)  # expectations without digests: UNVERIFIED
    note_drift_and_warnings(result, check.loaded, env, check.expected, output, fail_on)  # drift, warnings, --fail-on
    return platform_checks.explain_load_failure(result, check.missing)


__all__ = ["Baseline", "ModelCheck", "before_build", "build", "env_checks", "find_expected", "note_built", "read_output",
           "resolve", "run", "run_unjudged", "verdict"]
