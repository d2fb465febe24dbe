"""conda backend: conda.yaml -> a conda-lock lock -> a conda env, with py-rattler (no conda binary).

A build either solves (conda.yaml's channels and specs, or the user's --channel; py-rattler, or
--conda-exe) or, when a conda-lock file is given (--lockfile) or stored in the model directory
(conda-lock.yml), installs exactly that lock. Either way the conda packages are linked by py-rattler,
the pip section is installed by uv with --require-hashes from the lock, then the model's own wheels;
the lock that was installed is kept in the env as conda-lock.yml. The runner runs with the env's
Python and the env "activated" (its bin/ first on PATH, CONDA_PREFIX set), so a model that calls a
conda package's executable finds it.

Modules: channels (which channels, URLs without secrets), spec (--channel/--lockfile in the EnvSpec),
solve + worker + link (py-rattler, in a child process), external (--conda-exe), pip_lock (the pip
section), lockfile (conda-lock's format), lock (solve-and-lock, `envforge lock`).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from envforge.backends import wheel_check
from envforge.backends.base import BuildOptions, Built, Env, Log, WrittenLock
from envforge.backends.conda import lockformat, pip_lock
from envforge.backends.conda.channels import public_url
from envforge.backends.conda.lock import install_lock, save, solve_into, write_lock
from envforge.backends.conda.specialize import LOCK_NAME, conda_spec, lock_path
from envforge.processes.proc import child_env, run
from envforge.spec import EnvSpec
from envforge.spec.asof import AsOf
from envforge.store import bytecode


class CondaBackend:
    name = "conda"
    uses_pip_locks = False
    lock_remedy = "With --backend conda pass a conda-lock file as --lockfile FILE (write one with `envforge lock URI --backend conda`)."

    def limit_as_of(self, as_of: AsOf, warnings: tuple[str, ...], options: BuildOptions) -> tuple[AsOf, tuple[str, ...]]:
        """py-rattler solves with exclude_newer; an external conda (--conda-exe) cannot be told the moment."""
        if as_of.moment and options.conda_exe:
            warnings += (f"--conda-exe {options.conda_exe} solves the conda part against today's channels; only the pip "
                         f"section is resolved as of {as_of.moment}",)
        return as_of, warnings

    def specialize(self, spec: EnvSpec, model_dir: Path, options: BuildOptions) -> EnvSpec:
        """--channel replaces the logged channels; a conda-lock file (--lockfile, the model's own) joins the key."""
        return conda_spec(spec, model_dir, options)

    def available(self) -> str | None:
        missing = [m for m in ("rattler", "conda_lock", "uv") if importlib.util.find_spec(m) is None]
        if missing:
            return (f"the Python package(s) {', '.join(missing)} are not installed. "
                    "Install envforge with the conda extra: `pip install 'envforge-mlflow[conda]'`.")
        return None

    def build(self, spec: EnvSpec, model_dir: Path, dest: Path, options: BuildOptions, log: Log) -> Built:
        python = dest / "bin" / "python"
        source = lock_path(model_dir, options)
        with ThreadPoolExecutor(max_workers=1) as pool:  # conda-lock imports slowly: in a thread, while the work goes on
            if source is not None:
                checked = pool.submit(lockformat.validate, source)  # conda-lock's own parser must accept the lock
                locked = install_lock(source, spec, dest, options, log)
            else:
                checked = pool.submit(lockformat.preload)
                locked = solve_into(spec, model_dir, dest, options, log)
            wheel_check.check_locked(locked.pip, locked.python_version, options.allow_source_builds)  # issue 34: before any build
            log(f"installing {len(locked.pip)} locked pip package(s) with uv (hash-checked)")
            pip_lock.install(locked.pip, spec, model_dir, python, options)
            checked.result()
        if source is not None:
            shutil.copyfile(source, dest / LOCK_NAME)
        else:
            save(locked, spec, dest / LOCK_NAME)
        seeded = bytecode.seed(dest)  # .pyc files compiled in earlier envs for these very files
        if seeded:
            log(f"reused {seeded} compiled module(s) from envforge's bytecode store")
        origin = next((p.url for p in locked.conda if p.name == "python"), "")
        reason = f"conda package python {locked.python_version} from {public_url(origin) or 'a conda channel'}"
        if source is not None:
            reason += f", exactly as locked in {source.name}"
        return Built(python=str(python), python_version=locked.python_version, interpreter_reason=reason,
                     installed=self._freeze(python), resolved_as_of=spec.resolved_as_of)

    def health_check(self, env_dir: Path, python: str) -> str | None:
        if not any((env_dir / "conda-meta").glob("*.json")):
            return "its conda-meta/ records are gone"
        if not Path(python).is_file():
            return f"its interpreter {python} is gone"
        probe = run([python, "-I", "-c", "import sys"], timeout=60, env=child_env())
        return None if probe.ok else f"its interpreter does not start ({probe.describe()})"

    def remove(self, env_dir: Path) -> None:
        """A conda env owns nothing outside its directory (py-rattler's package cache is shared, and kept)."""

    def lock(self, spec: EnvSpec, model_dir: Path, uri: str, options: BuildOptions, log: Log,
             open_env: Callable[[], Env]) -> WrittenLock:
        """conda.yaml solved and written as a conda-lock file for this platform; no env is built."""
        with tempfile.TemporaryDirectory(prefix="envforge-lock-") as tmp:
            target = Path(tmp) / LOCK_NAME
            locked = write_lock(spec, model_dir, target, options, log)
            text = target.read_text()
        return WrittenLock(text, f"{len(locked.conda)} conda and {len(locked.pip)} pip packages with hashes "
                                 f"(python {locked.python_version})")

    def command(self, env_dir: Path, python: str, argv: list[str]) -> list[str]:
        """argv inside the env, activated as `conda run` would: its bin/ first on PATH, CONDA_PREFIX set."""
        path = os.pathsep.join([str(env_dir / "bin"), os.environ.get("PATH", os.defpath)])
        rest = [python, *argv[1:]] if argv and argv[0] == "python" else list(argv)
        return [shutil.which("env") or "/usr/bin/env", f"PATH={path}", f"CONDA_PREFIX={env_dir}",
                f"CONDA_DEFAULT_ENV={env_dir}", *rest]

    def _freeze(self, python: Path) -> tuple[str, ...]:
        from envforge.backends.tools import uv_bin

        frozen = run([uv_bin(), "pip", "freeze", "--python", str(python)], timeout=120, env=child_env())
        return tuple(frozen.stdout.split()) if frozen.ok else ()
