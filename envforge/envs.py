"""Build or reuse the environment for a model URI: resolve -> spec (-> lock) -> get_env.

The one sequence behind verify, shell, run, diff, lock and serve-check. `open_env` holds a
shared "in use" lock on the env for as long as its caller works in it, so that `envforge cache
prune` in another process leaves the env alone, and notes the use for `envforge cache list`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from envforge.asof import LOCKED, AsOf, as_of_for
from envforge.backends import get_backend
from envforge.backends.base import Backend, BuildOptions, ContainerBackend, Env, index_overrides
from envforge.cache import get_env, lock_name
from envforge.errors import EnvBuildError, UsageError
from envforge.lockfile import LOCK_FILENAME, Lock, apply_lock, read_lock
from envforge.locking import using
from envforge.resolve import ModelDir, resolve
from envforge.spec import EnvSpec, load_spec
from envforge.spec.mlmodel import MLmodel, read_mlmodel
from envforge.usage import note_use

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


def load_model(uri: str, *, backend: str = "uv", tracking_uri: str | None = None, refresh: bool = False,
               lock: str | None = None, stored_lock: bool = True, build: BuildOptions | None = None,
               progress: Log | None = None) -> LoadedModel:
    """Resolve `uri` and work out the EnvSpec; `lock` (a file) or the lock stored with the model
    (unless stored_lock is False) replaces the model's requirements. `build` carries the user's
    index options, which are part of the env's key."""
    chosen = get_backend(backend)
    model = resolve(uri, tracking_uri=tracking_uri, refresh=refresh, progress=progress,
                    timeout=(build or BuildOptions()).download_timeout)
    mlmodel = read_mlmodel(model.path)
    overrides = index_overrides(build or BuildOptions(), chosen.name)
    requested = load_spec(model.path, chosen.name, mlmodel, index_overrides=overrides)
    if isinstance(chosen, ContainerBackend):  # the base image (and CA bundle) join the key
        requested = chosen.specialize(requested, build or BuildOptions())
    as_of, as_of_warnings = as_of_for(mlmodel, chosen.name, build or BuildOptions())
    requested = replace(requested, resolved_as_of=as_of.moment)
    if chosen.name == "conda":  # conda-lock files (--lockfile, conda-lock.yml) and --channel: backends/conda/spec.py
        from envforge.backends.conda.spec import conda_spec

        if lock:
            raise UsageError(f"--lock {lock}: envforge's pip-style locks are for the uv and virtualenv backends.",
                             "With --backend conda pass a conda-lock file as --lockfile FILE.")
        return LoadedModel(model, mlmodel, conda_spec(requested, model.path, build or BuildOptions()), requested, None, chosen,
                           as_of, as_of_warnings)
    found = _find_lock(model.path, lock, stored_lock)
    spec = apply_lock(requested, found) if found else requested
    if found and as_of.moment:  # a lock pins every package: no date to resolve as of
        as_of = AsOf(LOCKED, None, as_of.explicit, f"{found.source} pins every package")
        spec = replace(spec, resolved_as_of=None)
    return LoadedModel(model, mlmodel, spec, requested, found, chosen, as_of, as_of_warnings)


@contextmanager
def open_env(loaded: LoadedModel, options: BuildOptions, log: Log) -> Iterator[Env]:
    """The built (or reused) env, marked as in use until the block ends."""
    unavailable = loaded.backend.available()
    if unavailable:
        raise EnvBuildError(f"The {loaded.backend.name} backend cannot run here: {unavailable}", "")
    with using(lock_name(loaded.spec.key)):
        env = get_env(loaded.spec, loaded.model.path, loaded.backend, options, log)
        note_use(env.path, env.key, str(loaded.model.path) if loaded.model.is_local else loaded.model.uri)
        yield env


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
