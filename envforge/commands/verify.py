"""`envforge verify`: the whole pipeline for one model, as one result object (pipeline.py has the chain,
commands/verification_steps.py the steps around it that verify-registry runs too)."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from envforge.attestation.statement import write_statement
from envforge.backends.build_options import BuildOptions
from envforge.backends.ready import check_before_work
from envforge.backends.run_options import RunOptions
from envforge.building.option_parts import split_options
from envforge.commands import verification_steps as steps
from envforge.compare import DEFAULT_ATOL, DEFAULT_RTOL
from envforge.errors import EnvforgeError
from envforge.modeldir.download_options import DownloadOptions
from envforge.pipeline import Judging
from envforge.progress import Progress, Silent, timed
from envforge.result import PASSED, VerifyResult
from envforge.store import bytecode


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
    stored_lock: bool = True  # False: ignore the lock `record --lock` stored with the model
    synthesize: bool = True  # no example and no --input: synthesize one (modeldir/synthesize.py)
    attest: str | None = None  # write an in-toto statement of the verdict there (attestation/statement.py)
    fail_on: tuple[str, ...] = ()  # --fail-on drift,warnings: a passing verdict fails on them (report/gate.py)
    build: BuildOptions = field(default_factory=BuildOptions)
    run: RunOptions = field(default_factory=RunOptions)
    download: DownloadOptions = field(default_factory=DownloadOptions)

    @property
    def judging(self) -> Judging:
        return Judging(rtol=self.rtol, atol=self.atol, require_expected=self.require_expected)


def verify(uri: str, *, progress: Progress | None = None, **options: Any) -> VerifyResult:
    """Rebuild the model's environment and check its predictions. Never raises EnvforgeError:
    problems end up in the result (status "error", exit code 2 or 3)."""
    parts, own = split_options(options, VerifyOptions)
    opts = VerifyOptions(build=parts.build, run=parts.run, download=parts.download, **own)
    result = VerifyResult(uri=uri, backend=opts.backend)
    try:
        with ExitStack() as stack:  # holds the env "in use" until the verification is over
            return _verify(uri, opts, progress or Silent(), result, stack)
    except EnvforgeError as exc:
        return result.error_from(exc)


def _verify(uri: str, opts: VerifyOptions, progress: Progress, result: VerifyResult, stack: ExitStack) -> VerifyResult:
    """The group of one: the steps verify-registry runs for each model of a group (commands/verification_steps.py)."""
    check = steps.ModelCheck(result)
    with timed(result.steps, progress, "resolve") as step:
        check_before_work(opts.backend)  # its extra, its engine: an error result before the model is downloaded
        loaded = steps.resolve(check, uri, step, backend=opts.backend, tracking_uri=opts.tracking_uri, refresh=opts.refresh,
                               lock=opts.lock, stored_lock=opts.stored_lock, build=opts.build, download=opts.download,
                               progress=progress.update)
        ahead = steps.Ahead(stack, loaded, opts.run, opts.predict_timeout)
        ahead.start()  # its env is built: its runner starts now, importing MLflow while the checks run
        stopped = steps.before_build(check, expected=opts.expected, tracking_uri=opts.tracking_uri, inputs=opts.inputs,
                                     synthesize=opts.synthesize)
    if stopped is not None:
        return stopped  # its files changed (nothing built), or it cannot be verified here
    with timed(result.steps, progress, "build") as step:  # a new (or rebuilt) env: its runner starts before the machine checks
        env = steps.build(stack, check, opts.build, progress.update, step, limits=opts.run, ahead=ahead)
    with timed(result.steps, progress, "predict") as step:
        executor, output = steps.run(stack, loaded, env, check.runs, opts.build, opts.run, timeout=opts.predict_timeout,
                                     log=progress.update, result=result, head=ahead.current)
        steps.read_output(check, output, env)
        step.detail = f"{len(output.predictions())} of {len(check.runs)} example(s)"
        if not env.reused:  # keep the .pyc files this first run compiled, for the next new env
            bytecode.harvest(env.path)
    judged = steps.verdict(check, output, env, opts.judging, opts.fail_on, progress)
    judged.image = executor.finish(judged.status == PASSED)  # containers: tag the image that passed
    if opts.attest:
        write_statement(opts.attest, judged, loaded, env, check.runs, opts.judging)
    return judged
