"""Built environments, cached by EnvSpec.key.

One lock per key (concurrent runs build once), the build happens in the env's own directory
and a state marker is written last: a directory without a marker is an interrupted build and
is wiped, never reused. A marker is trusted only after the backend's health check. Why in place and
not in a temp dir renamed into place (envs are not relocatable), and how a process left over from an
interrupted build is kept from writing into the next build (the fence), is in store/build_fence.py.
"""

from __future__ import annotations

import errno
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from envforge.backends.base import Backend, BuildOptions, Built, Env, Log
from envforge.backends.run_options import RunOptions
from envforge.errors import EnvBuildError
from envforge.execution import install_jail
from envforge.spec import EnvSpec
from envforge.store import env_check
from envforge.store.build_fence import fenced
from envforge.store.env_manifest import write_manifest
from envforge.store.filelocks import locked
from envforge.store.layout import env_dir as _env_dir
from envforge.store.layout import env_lock_name, envs_dir
from envforge.store.marker import read_marker, write_marker


def env_dir(spec: EnvSpec) -> Path:
    return _env_dir(spec.backend, spec.key)


class Early(Protocol):
    """What may start in a new env before its install is confirmed (backends/speculative.py): verify's runner."""

    def start(self, env: Env) -> None: ...

    def drop(self) -> None: ...


def get_env(spec: EnvSpec, model_dir: Path, backend: Backend, options: BuildOptions, log: Log, *, run: RunOptions,
            early: Early | None = None) -> Env:
    """Reuse the healthy env for spec.key, or build it (once, however many processes ask); its install steps
    are jailed unless `run.sandbox` is off. `early`: started in a new env while the index confirms its install
    (backends/speculative.py), dropped before the env is wiped."""
    dest = env_dir(spec)
    with locked(env_lock_name(spec.key), timeout=options.timeout,
                on_wait=lambda: log("another envforge process is building this environment; waiting")):
        state = read_marker(dest)
        why = damaged = None
        if state and state.get("key") == spec.key:
            mismatch = _interpreter_mismatch(state, spec, options)
            unhealthy = None if mismatch else backend.health_check(dest, str(state.get("python") or ""))
            damaged = None if mismatch or unhealthy else env_check.damage(dest, check=options.check)
            if mismatch:
                why = mismatch
                log(f"{mismatch}; rebuilding")
            elif damaged:  # never a verdict on the model from an env that lost files: removed as prune removes it
                why = env_check.discard(dest, backend, damaged, log)
            elif unhealthy is None:
                return _env(dest, state, reused=True)
            else:
                why = f"the cached environment failed its health check: {unhealthy}"
                log(f"{why}; rebuilding")
        elif dest.exists():
            log("removing an interrupted or outdated build")
        # Nothing of an interrupted build still runs (store/build_fence.py); install steps see no secrets (install_jail).
        with fenced(spec.key), install_jail.confined(run.sandbox):
            _wipe(dest)
            dest.parent.mkdir(parents=True, exist_ok=True)
            start = time.monotonic()
            built = None
            try:
                built = backend.build(spec, model_dir, dest, options, log)
                if built.confirm is not None:
                    built = _confirmed(built, dest, _state(spec, built, options, time.monotonic() - start), early)
                else:
                    write_manifest(dest)  # what the build installed, before the marker makes the env reusable
                if damaged:  # the installer's cache may hold the damaged file (uv links from it): hash the new env once
                    env_check.confirm_rebuilt(dest, damaged)
                state = _state(spec, built, options, time.monotonic() - start)
                write_marker(dest, state)
            except BaseException as exc:  # interrupted or failed: nothing half-built stays where the next run looks
                if early is not None:
                    early.drop()
                if built is not None and built.abandon is not None:  # the index's confirmation, if still asking
                    built.abandon()
                full = isinstance(exc, (EnvBuildError, OSError)) and _disk_full(dest.parent)  # before the wipe frees it
                _wipe(dest)
                no_space = _out_of_space(exc, full)
                if no_space:
                    raise no_space from None
                raise
        return replace(_env(dest, state, reused=False), rebuilt_because=why)


def _confirmed(built: Built, dest: Path, state: dict[str, object], early: Early | None) -> Built:
    """The report of a build whose install the index confirms meanwhile: `early` starts in the env at once and the
    manifest is written, then the confirmation is awaited; an install it does not confirm is rebuilt (early dropped)."""
    assert built.confirm is not None
    if early is not None:
        early.start(_env(dest, state, reused=False))
    write_manifest(dest)
    rebuilt = built.confirm(early.drop if early is not None else lambda: None)
    if rebuilt is None:
        return built
    write_manifest(dest)  # the online install's files
    return rebuilt


def _state(spec: EnvSpec, built: Built, options: BuildOptions, seconds: float) -> dict[str, object]:
    return {
        "key": spec.key, "backend": spec.backend, "python": built.python,
        "python_version": built.python_version, "interpreter_reason": built.interpreter_reason,
        "interpreter_warning": built.interpreter_warning, "installed": list(built.installed),
        "build_seconds": seconds, "built_at": time.time(), "spec": spec.to_dict(),
        "explicit_python": os.path.realpath(options.python) if options.python else None,
        "resolved_as_of": built.resolved_as_of, "build_notes": list(built.notes),
    }


def _disk_full(folder: Path) -> bool:
    """Less than 1 MiB (or no inode) left to this user on folder's filesystem: an installer that failed there met a full
    disk, whatever it said (uv, out of space while copying a package, has reported the METADATA it could not write as
    missing)."""
    try:
        fs = os.statvfs(folder)
    except OSError:
        return False
    blocks, inodes = (fs.f_bfree, fs.f_ffree) if os.geteuid() == 0 else (fs.f_bavail, fs.f_favail)  # root may use reserved blocks
    return blocks * fs.f_frsize < 1 << 20 or (fs.f_files > 0 and inodes == 0)


def _out_of_space(exc: BaseException, disk_full: bool = False) -> EnvBuildError | None:
    """A full disk, whether envforge's own write or an installer's met it, as one clear error."""
    text = exc.message if isinstance(exc, EnvBuildError) else ""
    said = (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "No space left on device" in text
    if not said and not disk_full:  # disk_full: asked by the caller only for a failed build, never for Ctrl-C
        return None
    return EnvBuildError(
        f"The disk holding envforge's cache ({envs_dir()}) ran out of space while building the environment; "
        f"the partial build was removed. {text.splitlines()[0] if text else exc}",
        "Free some space (`envforge cache prune --max-size 5G` removes the least recently used environments), "
        "or point ENVFORGE_HOME at a larger disk.",
    )


def _interpreter_mismatch(state: dict[str, object], spec: EnvSpec, options: BuildOptions) -> str | None:
    """Why a cached env does not honour this run's --python / --python-match exact (EnvSpec.key has neither)."""
    from envforge.interpreters import parse_version

    asked = os.path.realpath(options.python) if options.python else None
    built_with = state.get("explicit_python")
    if asked != built_with:
        was, now = (f"--python {p}" if p else "the logged Python version" for p in (built_with, asked))
        return f"the cached environment was built for {was}, this run asks for {now}"
    wanted = parse_version(spec.python) if spec.python and options.python_match == "exact" and not asked else None
    have = parse_version(str(state.get("python_version")))
    if wanted and have and have[: len(wanted)] != wanted:
        return f"the cached environment has Python {state['python_version']} but --python-match exact asks for {spec.python}"
    return None


def _env(dest: Path, state: dict[str, object], *, reused: bool) -> Env:
    return Env(
        path=dest, key=str(state["key"]), backend=str(state["backend"]), python=str(state["python"]),
        python_version=str(state["python_version"]), interpreter_reason=str(state["interpreter_reason"]),
        interpreter_warning=state.get("interpreter_warning"),  # type: ignore[arg-type]
        installed=tuple(state.get("installed") or ()),  # type: ignore[arg-type]
        reused=reused, build_seconds=0.0 if reused else float(state["build_seconds"]),  # type: ignore[arg-type]
        resolved_as_of=state.get("resolved_as_of"),  # type: ignore[arg-type]
        notes=tuple(state.get("build_notes") or ()),  # type: ignore[arg-type]
    )


def _wipe(dest: Path) -> None:
    if dest.is_symlink() or dest.is_file():
        dest.unlink()
    elif dest.exists():
        shutil.rmtree(dest, ignore_errors=True)
