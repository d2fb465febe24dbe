"""The whole chain: resolve -> spec -> build -> run -> compare, as one result object."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envforge import asof, bytecode, diagnose
from envforge import examples as examples_mod
from envforge import expectations as expectations_mod
from envforge.backends.base import BuildOptions
from envforge.compare import DEFAULT_ATOL, DEFAULT_RTOL, compare
from envforge.envs import load_model, open_env
from envforge.errors import EXIT_FAILED, EnvforgeError
from envforge.predict import RunnerOutput, execute_runner, open_executor
from envforge.progress import Progress, Silent, timed
from envforge.result import ERROR, FAILED, PASSED, UNVERIFIED, VerifyResult


@dataclass(frozen=True)
class VerifyOptions:
    backend: str = "uv"
    tracking_uri: str | None = None
    expected: str | None = None
    require_expected: bool = False
    inputs: tuple[str, ...] = ()
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    refresh: bool = False
    predict_timeout: float = 900.0
    lock: str | None = None  # a lock file: install exactly its set (default: the lock stored with the model, if any)
    build: BuildOptions = field(default_factory=BuildOptions)


def verify(uri: str, *, progress: Progress | None = None, **options: Any) -> VerifyResult:
    """Rebuild the model's environment and check its predictions. Never raises EnvforgeError:
    problems end up in the result (status "error", exit code 2 or 3)."""
    build_keys = set(BuildOptions.__dataclass_fields__)
    unknown = set(options) - build_keys - set(VerifyOptions.__dataclass_fields__)
    if unknown:
        from envforge.errors import UsageError

        raise UsageError(f"verify() got unknown option(s): {', '.join(sorted(unknown))}.",
                         "See help(envforge.verify) for the options it takes.")
    build = BuildOptions(**{k: options.pop(k) for k in list(options) if k in build_keys})
    opts = VerifyOptions(build=build, **options)
    progress = progress or Silent()
    result = VerifyResult(uri=uri, backend=opts.backend)
    try:
        with ExitStack() as stack:  # holds the env "in use" until the verification is over
            return _verify(uri, opts, progress, result, stack)
    except EnvforgeError as exc:
        result.error = {"kind": type(exc).__name__, "message": exc.message, "remedy": exc.remedy}
        status = FAILED if exc.exit_code == EXIT_FAILED else ERROR
        return result.finish(status, exc.message.splitlines()[0], exc.exit_code)


def _verify(uri: str, opts: VerifyOptions, progress: Progress, result: VerifyResult, stack: ExitStack) -> VerifyResult:
    with timed(result.steps, progress, "resolve") as step:
        loaded = load_model(uri, backend=opts.backend, tracking_uri=opts.tracking_uri, refresh=opts.refresh,
                            lock=opts.lock, build=opts.build, progress=progress.update)
        model, mlmodel, spec, backend = loaded.model, loaded.mlmodel, loaded.spec, loaded.backend
        step.detail = "cached" if model.from_cache else ("local" if model.is_local else "downloaded")
        result.model_dir = str(model.path)
        result.env_key, result.logged_python = spec.key, spec.python
        result.warnings += list(spec.notes) + list(loaded.as_of_warnings)
        result.resolution = loaded.as_of.to_dict() if loaded.as_of else None
        expected = _expectations(model.path, opts)
        runs = _examples(model.path, mlmodel, expected, opts)
    with timed(result.steps, progress, "build") as step:
        env = stack.enter_context(open_env(loaded, opts.build, progress.update))
        step.detail = "reused" if env.reused else f"built in {env.build_seconds:.1f} s"
        result.env_path, result.env_reused = str(env.path), env.reused
        result.python_version, result.interpreter_reason = env.python_version, env.interpreter_reason
        if env.interpreter_warning:
            result.warnings.append(env.interpreter_warning)
        result.warnings += list(env.notes)
        really = asof.effective(loaded.as_of, env.resolved_as_of)
        result.resolution = really.to_dict() if really else None
    with timed(result.steps, progress, "predict") as step:
        executor = stack.enter_context(open_executor(backend, env, model.path, opts.build, progress.update))
        output = execute_runner(executor, runs, timeout=opts.predict_timeout)
        diagnose.annotate(output.data, env.installed, spec)  # a known cause of a load error, named
        result.runner_python = output.data.get("python")  # what the model actually ran on (sys.version_info)
        step.detail = f"{len(output.predictions())} of {len(runs)} example(s)"
        if not env.reused:  # keep the .pyc files this first run compiled, for the next new env
            bytecode.harvest(env.path)
    judged = _judge(result, output, expected, runs, opts, progress)
    judged.image = executor.finish(judged.status == PASSED)  # containers: tag the image that passed
    return judged


def _expectations(model_dir: Path, opts: VerifyOptions) -> expectations_mod.Expectations | None:
    if opts.expected:
        return expectations_mod.load(opts.expected, tracking_uri=opts.tracking_uri)
    found = expectations_mod.find(model_dir)
    return expectations_mod.load(found) if found else None


def _examples(model_dir: Path, mlmodel: Any, expected: expectations_mod.Expectations | None,
              opts: VerifyOptions) -> list[dict[str, Any]]:
    if expected is not None and not opts.inputs:
        return expected.runner_examples()
    extra = examples_mod.input_files(list(opts.inputs), mlmodel)
    return (extra or examples_mod.model_examples(model_dir, mlmodel))


def _judge(result: VerifyResult, output: RunnerOutput, expected: expectations_mod.Expectations | None,
           runs: list[dict[str, Any]], opts: VerifyOptions, progress: Progress) -> VerifyResult:
    result.examples = [{k: e.get(k) for k in ("name", "ok", "seconds", "stage")} for e in output.examples]
    if output.load_error:
        result.model_error = {"stage": "load", **output.load_error}
        hint = output.load_error.get("hint")
        return result.finish(FAILED, f"the model failed to load: {_headline(output.load_error)}" + (f". Likely cause: {hint}" if hint else ""))
    failures = output.failures()
    if failures:
        first = failures[0]
        result.model_error = {"example": first["name"], "stage": first.get("stage"), **(first.get("error") or {})}
        return result.finish(FAILED, f"the model raised on {first['name']!r}: {_headline(first.get('error') or {})}")
    if not runs:
        return result.finish(UNVERIFIED, "the model loaded, but it has no input example: nothing could be run (pass --input FILE)",
                             EXIT_FAILED if opts.require_expected else None)
    if expected is None:
        reason = "predictions ran, but no expectations were recorded (run `envforge record` or pass --expected)"
        return result.finish(UNVERIFIED, reason, EXIT_FAILED if opts.require_expected else None)
    with timed(result.steps, progress, "compare") as step:
        result.expectations = expected.source
        wanted = {e["name"]: expected.predictions()[e["name"]] for e in runs if e["name"] in expected.predictions()}
        result.comparison = compare(wanted, output.predictions(), rtol=opts.rtol, atol=opts.atol)
        step.detail = "match" if result.comparison.ok else "differ"
    if result.comparison.ok:
        return result.finish(PASSED, f"{len(wanted)} example(s) match the recorded predictions")
    return result.finish(FAILED, result.comparison.summary())


def judge_output(result: VerifyResult, output: RunnerOutput, model_dir: Path, mlmodel: Any, opts: VerifyOptions,
                 runs: list[dict[str, Any]] | None = None) -> VerifyResult:
    """Judge one model's runner output, for callers that ran it themselves (verify-registry runs
    several models in one runner): the same verdicts as verify(); EnvforgeError ends up in the result."""
    try:
        expected = _expectations(model_dir, opts)
        runs = runs if runs is not None else _examples(model_dir, mlmodel, expected, opts)
        return _judge(result, output, expected, runs, opts, Silent())
    except EnvforgeError as exc:
        result.error = {"kind": type(exc).__name__, "message": exc.message, "remedy": exc.remedy}
        return result.finish(FAILED if exc.exit_code == EXIT_FAILED else ERROR, exc.message.splitlines()[0], exc.exit_code)


def examples_to_run(model_dir: Path, mlmodel: Any, opts: VerifyOptions) -> list[dict[str, Any]]:
    """The inputs verify() would run for this model (the recorded ones, else --input, else its example)."""
    return _examples(model_dir, mlmodel, _expectations(model_dir, opts), opts)


def _headline(error: dict[str, Any]) -> str:
    message = str(error.get("message") or "").strip().splitlines()
    return f"{error.get('type', 'Error')}: {message[0] if message else ''}".strip()
