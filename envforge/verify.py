"""The whole chain: resolve -> spec -> build -> run -> compare, as one result object."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envforge import examples as examples_mod
from envforge import expectations as expectations_mod
from envforge.backends import get_backend
from envforge.backends.base import BuildOptions
from envforge.cache import get_env
from envforge.compare import DEFAULT_ATOL, DEFAULT_RTOL, compare
from envforge.errors import EXIT_FAILED, EnvforgeError
from envforge.predict import RunnerOutput, run_runner
from envforge.progress import Progress, Silent, timed
from envforge.resolve import resolve
from envforge.result import ERROR, FAILED, PASSED, UNVERIFIED, VerifyResult
from envforge.spec import load_spec
from envforge.spec.mlmodel import read_mlmodel


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
    build: BuildOptions = field(default_factory=BuildOptions)


def verify(uri: str, *, progress: Progress | None = None, **options: Any) -> VerifyResult:
    """Rebuild the model's environment and check its predictions. Never raises EnvforgeError:
    problems end up in the result (status "error", exit code 2 or 3)."""
    build_keys = set(BuildOptions.__dataclass_fields__)
    build = BuildOptions(**{k: options.pop(k) for k in list(options) if k in build_keys})
    opts = VerifyOptions(build=build, **options)
    progress = progress or Silent()
    result = VerifyResult(uri=uri, backend=opts.backend)
    try:
        return _verify(uri, opts, progress, result)
    except EnvforgeError as exc:
        result.error = {"kind": type(exc).__name__, "message": exc.message, "remedy": exc.remedy}
        status = FAILED if exc.exit_code == EXIT_FAILED else ERROR
        return result.finish(status, exc.message.splitlines()[0], exc.exit_code)


def _verify(uri: str, opts: VerifyOptions, progress: Progress, result: VerifyResult) -> VerifyResult:
    backend = get_backend(opts.backend)
    with timed(result.steps, progress, "resolve") as step:
        model = resolve(uri, tracking_uri=opts.tracking_uri, refresh=opts.refresh, progress=progress.update)
        step.detail = "cached" if model.from_cache else ("local" if model.is_local else "downloaded")
        result.model_dir = str(model.path)
        mlmodel = read_mlmodel(model.path)
        spec = load_spec(model.path, backend.name, mlmodel)
        result.env_key, result.logged_python = spec.key, spec.python
        result.warnings += list(spec.notes)
        expected = _expectations(model.path, opts)
        runs = _examples(model.path, mlmodel, expected, opts)
    unavailable = backend.available()
    if unavailable:
        from envforge.errors import EnvBuildError

        raise EnvBuildError(f"The {backend.name} backend cannot run here: {unavailable}", "")
    with timed(result.steps, progress, "build") as step:
        env = get_env(spec, model.path, backend, opts.build, progress.update)
        step.detail = "reused" if env.reused else f"built in {env.build_seconds:.1f} s"
        result.env_path, result.env_reused = str(env.path), env.reused
        result.python_version, result.interpreter_reason = env.python_version, env.interpreter_reason
        if env.interpreter_warning:
            result.warnings.append(env.interpreter_warning)
    with timed(result.steps, progress, "predict") as step:
        output = run_runner(backend.command(env.path, env.python, ["python", "-I"]), model.path, runs,
                            timeout=opts.predict_timeout)
        step.detail = f"{len(output.predictions())} of {len(runs)} example(s)"
    return _judge(result, output, expected, runs, opts, progress)


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
        return result.finish(FAILED, f"the model failed to load: {_headline(output.load_error)}")
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


def _headline(error: dict[str, Any]) -> str:
    message = str(error.get("message") or "").strip().splitlines()
    return f"{error.get('type', 'Error')}: {message[0] if message else ''}".strip()
