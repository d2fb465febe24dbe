"""The steps every command composes: resolve -> spec (-> lock) -> env -> run -> judge.

verify, serve-check, record, shell/run, diff, lock and verify-registry are each a composition of these
steps; the bookkeeping a step leaves in a VerifyResult (note_model, note_env), the expectations a model is
compared with (find_expectations) and the verdicts (judge) are written once, here (the inputs it runs:
modeldir/input_policy.py). `open_env` holds a shared "in use" lock on the env for as long as its caller works in it, so
that `envforge cache prune` in another process leaves the env alone, and notes the use for `cache list`.
No code here knows a backend by name: what differs between backends is a hook of backends.base.Backend.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from envforge.backends import NAMES, get_backend
from envforge.backends.base import Backend, BuildOptions, Env, WrittenLock
from envforge.backends.index import index_overrides
from envforge.backends.run_options import RunOptions
from envforge.building import same_resolution
from envforge.building.cached_envs import Early, get_env
from envforge.commands import implied_checks
from envforge.compare import DEFAULT_ATOL, DEFAULT_RTOL, compare
from envforge.errors import EXIT_FAILED, UsageError
from envforge.execution.executor import RunnerOutput
from envforge.modeldir import expectations as expectations_mod
from envforge.modeldir import synthesize as synth
from envforge.modeldir import unstored
from envforge.modeldir.download_options import DownloadOptions
from envforge.modeldir.expectations import Expectations
from envforge.modeldir.links import check_links
from envforge.modeldir.resolve import ModelDir, resolve
from envforge.progress import Progress, Silent, timed
from envforge.result import FAILED, PASSED, UNVERIFIED, Step, VerifyResult
from envforge.spec import EnvSpec, index_lines, load_spec
from envforge.spec.asof import LOCKED, AsOf, as_of_for, effective
from envforge.spec.envlock import LOCK_FILENAME, Lock, apply_lock, read_lock
from envforge.spec.mlmodel import MLmodel, read_mlmodel
from envforge.spec.runtime_profiles import Applied, apply_profile
from envforge.store.filelocks import using
from envforge.store.layout import env_lock_name
from envforge.store.usage import note_use

Log = Callable[[str], None]


@dataclass(frozen=True)
class LoadedModel:
    model: ModelDir
    mlmodel: MLmodel
    spec: EnvSpec          # what the env is built from: the lock's exact set when a lock applies
    requested: EnvSpec     # the model's own requirements, as logged
    lock: Lock | None
    backend: Backend
    as_of: AsOf | None = None  # the moment requirements are resolved as of (--resolve), and why
    as_of_warnings: tuple[str, ...] = ()
    runtime: Applied | None = None  # the Databricks runtime profile applied, or why none was


def load_model(uri: str, *, backend: str = "uv", tracking_uri: str | None = None, refresh: bool = False,
               lock: str | None = None, stored_lock: bool = True, build: BuildOptions | None = None,
               download: DownloadOptions | None = None, progress: Log | None = None) -> LoadedModel:
    """Resolve `uri` (fetched as `download` says) and work out the EnvSpec; `lock` (a file) or the lock stored
    with the model (unless stored_lock is False) replaces the model's requirements. `build` carries the user's
    index options, which are part of the env's key."""
    chosen = get_backend(backend)
    options, fetch = build or BuildOptions(), download or DownloadOptions()
    model = resolve(uri, tracking_uri=tracking_uri, refresh=refresh, progress=progress,
                    timeout=fetch.download_timeout, check=options.check)
    check_links(model.path, fetch.allow_outside_links)  # before any file of the model is read
    mlmodel = read_mlmodel(model.path)
    overrides = index_overrides(options, chosen.name)
    as_of, as_of_warnings = as_of_for(mlmodel, chosen, options)  # --resolve: the moment joins the key
    plain = replace(load_spec(model.path, chosen.name, mlmodel, index_overrides=overrides), resolved_as_of=as_of.moment)
    plain = implied_checks.amend(plain, model.path, options.add_implied, mlmodel.code_dir)  # what the pickles import (issue 34)
    plain = index_lines.amend(plain, options.resolve, options.offline)  # dead find-links, .devN mlflow pins (issue 34)
    plain, runtime = apply_profile(plain, mlmodel.databricks_runtime, options.runtime_profile, as_of.mode)
    # What else the env depends on joins the key too: a base image, a conda lock, the user's channels.
    requested = chosen.specialize(plain, model.path, options)
    if lock and not chosen.uses_pip_locks:
        users = ", ".join(name for name in NAMES if get_backend(name).uses_pip_locks)
        raise UsageError(f"--lock {lock}: envforge's pip-style locks are installed by the {users} backends, not by {chosen.name}.",
                         chosen.lock_remedy)
    found = _find_lock(model.path, lock, stored_lock) if chosen.uses_pip_locks else None
    spec = apply_lock(requested, found) if found else requested
    spec = same_resolution.adopt(spec)  # the env of another spec that resolves identically, if a registry run found one
    if found and as_of.moment:  # a lock pins every package: no date to resolve as of
        as_of = AsOf(LOCKED, None, as_of.explicit, f"{found.source} pins every package")
        spec = replace(spec, resolved_as_of=None)
    return LoadedModel(model, mlmodel, spec, requested, found, chosen, as_of, as_of_warnings, runtime)


@contextmanager
def open_env(loaded: LoadedModel, options: BuildOptions, log: Log, *, run: RunOptions, early: Early | None = None) -> Iterator[Env]:
    """The built (or reused) env, marked as in use until the block ends (`run.sandbox` jails its install steps;
    `early`: building/cached_envs.get_env's)."""
    from envforge.backends.ready import unavailable_error

    unavailable = unavailable_error(loaded.backend)  # the reason and the fix (the extra to install)
    if unavailable:
        raise unavailable
    with using(env_lock_name(loaded.spec.key)):
        env = get_env(loaded.spec, loaded.model.path, loaded.backend, options, log, run=run, early=early)
        note_use(env.path, env.key, str(loaded.model.path) if loaded.model.is_local else loaded.model.uri)
        yield env


def write_lock(loaded: LoadedModel, uri: str, options: BuildOptions, log: Log, *, run: RunOptions) -> WrittenLock:
    """`envforge lock`: the backend locks the env (building it first when its lock is read from a built env)."""
    from envforge.backends.ready import unavailable_error

    unavailable = unavailable_error(loaded.backend)  # the reason and the fix (the extra to install)
    if unavailable:
        raise unavailable
    with ExitStack() as stack:
        return loaded.backend.lock(loaded.spec, loaded.model.path, uri, options, log,
                                   lambda: stack.enter_context(open_env(loaded, options, log, run=run)))


def _find_lock(model_dir: Path, explicit: str | None, stored: bool) -> Lock | None:
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise UsageError(f"--lock {explicit}: no such file.", "Write one with `envforge lock URI -o FILE`.")
        return read_lock(path)
    path = model_dir / LOCK_FILENAME
    if stored and path.is_file():
        return read_lock(path, f"{LOCK_FILENAME} (stored with the model)")
    return None


def find_expectations(model_dir: Path, expected: str | None, tracking_uri: str | None) -> Expectations | None:
    """What the model's predictions are compared with: --expected (a file or URI), else the ones stored with the model."""
    if expected:
        return expectations_mod.load(expected, tracking_uri=tracking_uri)
    found = expectations_mod.find(model_dir)
    return expectations_mod.load(found) if found else None


def note_model(result: VerifyResult, loaded: LoadedModel, step: Step | None = None) -> None:
    """What the resolve and spec steps leave in a result."""
    model, spec = loaded.model, loaded.spec
    if step is not None:
        step.detail = "cached" if model.from_cache else ("local" if model.is_local else "downloaded")
    result.model_dir, result.env_key, result.logged_python = str(model.path), spec.key, spec.python
    result.env_shared_by_resolution = spec.own_key if spec.shared_key else None
    result.source = {k: v for k, v in model.to_dict().items() if k not in ("path", "uri", "from_cache")}  # tracking URI redacted
    result.warnings += list(spec.notes) + list(loaded.as_of_warnings)
    result.resolution = loaded.as_of.to_dict() if loaded.as_of else None
    result.runtime_profile = loaded.runtime.to_dict() if loaded.runtime else None


def env_as_of(loaded: LoadedModel, env: Env) -> AsOf | None:
    """As of when the env's packages really were resolved for this model: the moment asked for, or today's index
    when the build had to drop the cutoff. A spec using another's env (building/same_resolution.py) resolved as of
    its own moment to that env's very packages."""
    return loaded.as_of if loaded.spec.shared_key else effective(loaded.as_of, env.resolved_as_of)


def note_env(result: VerifyResult, env: Env, step: Step | None = None, shared_by: int = 1, as_of: AsOf | None = None) -> None:
    """What the env step leaves in a result: where the env is, which interpreter and why, the interpreter
    warning (a same-minor fallback) when there is one, the build's notes, and as of when the env really was
    resolved for this model (`as_of`: env_as_of's answer)."""
    if step is not None:
        shared = f" (shared by {shared_by} model(s))" if shared_by > 1 else ""
        step.detail = ("reused" if env.reused else f"built in {env.build_seconds:.1f} s") + shared
    result.env_path, result.env_reused = str(env.path), env.reused
    result.env_rebuilt_because = env.rebuilt_because  # a damaged cached env (store/env_check.py): rebuilt, and why
    result.python_version, result.interpreter_reason = env.python_version, env.interpreter_reason
    if env.interpreter_warning and env.interpreter_warning not in result.warnings:
        result.warnings.append(env.interpreter_warning)
    result.warnings += [note for note in env.notes if note not in result.warnings]
    if as_of is not None:
        result.resolution = as_of.to_dict()


@dataclass(frozen=True)
class Judging:
    """How predictions are judged: the tolerances, and whether a model without expectations fails."""

    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    require_expected: bool = False


def judge(result: VerifyResult, output: RunnerOutput, expected: Expectations | None, runs: list[dict[str, Any]],
          how: Judging, progress: Progress | None = None) -> VerifyResult:
    """The verdict on one model's runner output: failed to load, raised, nothing to run, nothing to compare
    with (unverified), or the comparison's answer."""
    result.examples = synth.reported(output.examples, runs)
    sources = {e["name"]: e["source"] for e in result.examples}
    unverified_code = EXIT_FAILED if how.require_expected else None
    if expected is not None:  # every verdict names what it was compared with, and where that was recorded
        result.expectations, result.baseline = expected.source, dict(expected.baseline)
        result.expectations_origin = unstored.origin(expected.source, result.model_dir)
    if output.load_error:
        result.model_error = {"stage": "load", **output.load_error}
        hint = output.load_error.get("hint")
        return result.finish(FAILED, f"the model failed to load: {headline(output.load_error)}" + (f". Likely cause: {hint}" if hint else ""))
    failures = output.failures()
    if failures:
        first = failures[0]
        result.model_error = {"example": first["name"], "stage": first.get("stage"), **(first.get("error") or {})}
        if expected is None and sources.get(first["name"]) in synth.SYNTHESIZED:  # the input may be at fault
            return result.finish(UNVERIFIED, f"the model loaded, but raised on an input {synth.phrase(sources.get(first['name']))}: "
                                             f"{headline(first.get('error') or {})} (a synthesized input may not be one the model "
                                             "accepts: pass --input FILE)", unverified_code)
        return result.finish(FAILED, f"the model raised on {first['name']!r}: {headline(first.get('error') or {})}")
    if not runs:
        return result.finish(UNVERIFIED, "the model loaded, but it has no input example: nothing could be run (pass --input FILE)",
                             unverified_code)
    unknowable = output.unknowable()
    if unknowable and not output.predictions():
        return result.finish(UNVERIFIED, "the model loaded, but it has no input example and none could be synthesized: "
                                         f"{unknowable[0]['unknowable']} (pass --input FILE)", unverified_code)
    made = sorted({s for s in sources.values() if s in synth.SYNTHESIZED})
    if expected is None:
        on = f" on an input {synth.phrase(made[0])} (so: it loads and predicts, not that it predicts right)" if made else ""
        reason = f"predictions ran{on}, but no expectations were recorded (run `envforge record` or pass --expected)"
        return result.finish(UNVERIFIED, reason, unverified_code)
    with timed(result.steps, progress or Silent(), "compare") as step:
        wanted = {e["name"]: expected.predictions()[e["name"]] for e in runs if e["name"] in expected.predictions()}
        result.comparison = compare(wanted, output.predictions(), rtol=how.rtol, atol=how.atol)
        step.detail = "match" if result.comparison.ok else "differ"
    rebuilt = "" if expected.kind == expectations_mod.TRAINING else f"; recorded in {expected.describe()}"
    if result.comparison.ok:
        return result.finish(PASSED, f"{len(wanted)} example(s) match the recorded predictions"
                                     + (f" (inputs {synth.phrase(made[0])} at record time)" if made else "") + rebuilt)
    return result.finish(FAILED, result.comparison.summary() + (f" (the baseline was {rebuilt[2:]})" if rebuilt else ""))


def headline(error: dict[str, Any]) -> str:
    """`Type: first line of the message` of a model's error."""
    message = str(error.get("message") or "").strip().splitlines()
    return f"{error.get('type', 'Error')}: {message[0] if message else ''}".strip()
