"""uv backend: `uv venv` from an installed interpreter, then `uv pip install`."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from envforge.backends import settled, speculative, wheel_check
from envforge.backends.base import Built, Log, check
from envforge.backends.build_options import BuildOptions
from envforge.backends.cutoff import Cutoff
from envforge.backends.index import index_args, install_remedy, installer_env
from envforge.backends.tools import uv_bin
from envforge.backends.venv import VenvBackend, built_from, choose_interpreter, requirement_files, requirement_lines, venv_python
from envforge.processes.proc import run
from envforge.spec import EnvSpec
from envforge.store import bytecode

_REMEDY = (
    "Check that every pinned version exists on the package index (uv's message above names the package); "
    "for private packages pass --index-url/--extra-index-url, or re-log the model with requirements that resolve."
)


class UvBackend(VenvBackend):
    name = "uv"

    def available(self) -> str | None:
        try:
            uv_bin()
        except (ImportError, FileNotFoundError):
            return "uv is not installed. Reinstall envforge (it depends on the uv package) or `pip install uv`."
        return None

    def build(self, spec: EnvSpec, model_dir: Path, dest: Path, options: BuildOptions, log: Log) -> Built:
        return self._build(spec, model_dir, dest, options, log, speculate=True)

    def _build(self, spec: EnvSpec, model_dir: Path, dest: Path, options: BuildOptions, log: Log, *, speculate: bool) -> Built:
        choice = choose_interpreter(spec, options, log)
        uv = uv_bin()
        env = installer_env("uv", options, {"UV_PYTHON_DOWNLOADS": "never"})
        check(run([uv, "venv", "--quiet", "--python", choice.interpreter.path, str(dest)], timeout=options.timeout, env=env),
              "Creating the virtual environment with uv", "Check the interpreter named above, or pass --python PATH.")
        python = str(venv_python(dest))
        index = index_args(spec, options, "uv", model_dir=model_dir)
        base = [uv, "pip", "install", "--python", python, *index]
        remedy = install_remedy(options, _REMEDY)
        on = f" for Python {choice.interpreter.version}" + (" (offline)" if options.offline else "")
        cutoff = Cutoff(spec, options)  # --exclude-newer: resolved as of the --resolve moment
        if cutoff.moment:
            on += f", as of {cutoff.moment}"
        kept = settled.recall(spec, choice.interpreter.version, cutoff.moment)  # a resolution that can no longer change
        resolved_at = None  # when the index was asked (kept for the next build where the moment had passed)
        guess = None  # the index's confirmation of an install from uv's cache (backends/speculative.py)
        with requirement_files(spec, model_dir) as (reqs, constraints):
            if spec.requirements or spec.build_dependencies:
                log("installing requirements")
                argv = [*base, "-r", str(reqs)] + (["-c", str(constraints)] if constraints else [])
                extra = [] if options.allow_source_builds else list(wheel_check.WHEELS_ONLY)
                if kept and settled.install(argv, kept[0], reqs.parent, cutoff.args(), options.timeout, env):
                    log(f"installed the resolution kept for {cutoff.moment} from uv's cache (backends/settled.py)")
                    cutoff.notes.extend(kept[1])
                else:
                    if kept:
                        log("the kept resolution is no longer all in uv's cache: resolving online")
                    resolved_at = datetime.now(timezone.utc)
                    if speculate and speculative.applies(spec, options):
                        guess = speculative.Confirmation(uv, python, reqs, constraints, [*index, *extra, *cutoff.args()], options.timeout, env)
                        if speculative.try_offline(argv, extra, cutoff.args(), options.timeout, env):
                            log("installed the requirements from uv's cache; the index confirms them meanwhile")
                        else:
                            guess.abandon()
                            guess = None
                    if guess is None:
                        wheel_check.install(
                            lambda more: cutoff.run([*argv[:5], *more, *argv[5:]], timeout=options.timeout, env=env,
                                                    what=f"Installing the model's requirements with uv{on}", remedy=remedy),
                            uv, reqs, choice.interpreter.version, base[5:], cutoff.args(), env, options.allow_source_builds)
            if spec.code_wheels:
                log(f"installing {len(spec.code_wheels)} code_path wheel(s)")
                wheels = requirement_lines(spec, model_dir, spec.code_wheels)
                argv = [*base, *wheels] + (["-c", str(constraints)] if constraints else [])
                cutoff.run(argv, timeout=options.timeout, env=env, what=f"Installing the model's code_path wheels with uv{on}", remedy=remedy)
        seeded = bytecode.seed(dest)  # .pyc files compiled in earlier envs for these very files
        if seeded:
            log(f"reused {seeded} compiled module(s) from envforge's bytecode store")
        frozen = run([uv, "pip", "freeze", "--python", python], timeout=120, env=env)
        installed = tuple(frozen.stdout.splitlines()) if frozen.ok else ()
        cutoff.notes[:] = dict.fromkeys(cutoff.notes)  # an install run twice (wheels-only, then not) notes the index once

        def keep() -> None:  # the resolution, once the index gave it
            if frozen.ok and resolved_at:
                settled.remember(spec, choice.interpreter.version, cutoff.moment, installed, resolved_at, cutoff.notes)

        built = built_from(choice, python, installed, cutoff)
        if guess is None:
            keep()
            return built

        def confirm(stop: Callable[[], None]) -> Built | None:
            why = guess.wait(installed) if frozen.ok else "the installed set could not be read"
            if why is None:
                keep()
                return None
            log(f"{why}: installing online instead")
            stop()
            shutil.rmtree(dest, ignore_errors=True)
            return self._build(spec, model_dir, dest, options, log, speculate=False)
        return replace(built, confirm=confirm, abandon=guess.abandon)  # get_env stops it if the build fails first
