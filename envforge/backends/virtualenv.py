"""virtualenv backend: the `virtualenv` package creates the env, the env's own pip installs into it.

Order, as MLflow's virtualenv env manager does it: build_dependencies (pip, setuptools, wheel as
logged), then the requirements (+ constraints), then the code_path wheels. pip runs with no
configuration file (PIP_CONFIG_FILE=/dev/null) in envforge's minimal child environment, so no
pip.conf (the machine's or the user's) reaches a model's env; index settings come only from the
model and the user's explicit options and PIP_* variables (backends/index.py), as for uv.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from envforge.backends import wheel_check
from envforge.backends.base import Built, Log, check
from envforge.backends.build_options import BuildOptions
from envforge.backends.cutoff import Cutoff, compile_pins
from envforge.backends.index import index_args, install_remedy, installer_env
from envforge.backends.venv import VenvBackend, built_from, choose_interpreter, requirement_files, requirement_lines, venv_python
from envforge.errors import EnvBuildError
from envforge.processes.proc import Outcome, run
from envforge.spec import EnvSpec

_REMEDY = (
    "Check that every pinned version exists on the package index and supports this Python (pip's message above "
    "names the package); for private packages pass --index-url/--extra-index-url, or re-log the model with "
    "requirements that resolve."
)
# Flags every pip since 10 understands: a model may pin an old pip in its build_dependencies.
_PIP_FLAGS = ("--disable-pip-version-check", "--no-input", "--progress-bar", "off", "--no-warn-script-location")


def pip_env(options: BuildOptions) -> dict[str, str]:
    """The child environment for virtualenv and pip: no configuration file of either is read (a machine's
    or user's pip.conf stays out of model envs); the user's own PIP_* variables pass (backends/index.py)."""
    return installer_env("pip", options, {
        "PIP_CONFIG_FILE": os.devnull, "VIRTUALENV_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1", "PYTHONNOUSERSITE": "1",
    })


def _too_old(created: Outcome, version: str, path: str) -> None:
    """virtualenv inspects the target interpreter with its own code, which an old Python cannot parse."""
    output = created.stdout + created.stderr
    if created.ok or "failed to query" not in output or "SyntaxError" not in output:
        return
    from importlib.metadata import version as installed_version

    raise EnvBuildError(
        f"virtualenv {installed_version('virtualenv')} cannot create an environment for Python {version} ({path}): "
        "that interpreter is older than this virtualenv supports (it cannot even run virtualenv's interpreter query).",
        "Use --backend uv, or pass --python PATH with a newer interpreter (the model may then need newer pins).",
    )


class VirtualenvBackend(VenvBackend):
    name = "virtualenv"

    def available(self) -> str | None:
        if importlib.util.find_spec("virtualenv") is None:
            return "the virtualenv package is not installed. Reinstall envforge (it depends on virtualenv) or `pip install virtualenv`."
        return None

    def build(self, spec: EnvSpec, model_dir: Path, dest: Path, options: BuildOptions, log: Log) -> Built:
        choice = choose_interpreter(spec, options, log)
        env = pip_env(options)
        # Seed pip only: setuptools/wheel come from build_dependencies, as in the uv backend's env.
        create = [sys.executable, "-m", "virtualenv", "--quiet", "--no-download", "--no-periodic-update",
                  "--no-setuptools", "--no-vcs-ignore", "--python", choice.interpreter.path, str(dest)]
        created = run(create, timeout=options.timeout, env=env)
        _too_old(created, choice.interpreter.version, choice.interpreter.path)
        check(created, "Creating the virtual environment with virtualenv", "Check the interpreter named above, or pass --python PATH.")
        python = str(venv_python(dest))
        # --no-compile: like uv, leave bytecode to the first import (pip's compileall quadruples the build time).
        base = [python, "-m", "pip", "install", *_PIP_FLAGS, "--no-compile", *index_args(spec, options, "pip", model_dir=model_dir)]
        remedy = install_remedy(options, _REMEDY)
        on = f" for Python {choice.interpreter.version}" + (" (offline)" if options.offline else "")
        cutoff = Cutoff(spec, options)
        with requirement_files(spec, model_dir) as (reqs, constraints):
            pins = ["-c", str(constraints)] if constraints else []
            if cutoff.moment and (spec.requirements or spec.build_dependencies):
                log(f"resolving the requirements as of {cutoff.moment} with uv")
                resolved = compile_pins(cutoff, spec, model_dir, python, reqs, constraints, options,
                                        f"Resolving the model's requirements as of {cutoff.moment} with uv{on}", remedy)
                if resolved:  # pip installs exactly that set: the whole resolution, as constraints
                    as_of = Path(str(reqs) + ".as-of.txt")
                    as_of.write_text("\n".join(resolved) + "\n")
                    pins += ["-c", str(as_of)]
            if spec.requirements or spec.build_dependencies:  # issue 34: no source build past any time limit
                wheel_check.check_venv(spec, model_dir, reqs, choice.interpreter.version, options, cutoff.args())
            if spec.build_dependencies:
                log("installing build dependencies")
                # --upgrade: an unpinned `pip` gets the newest, as uv gives it, not the seeded one.
                check(run([*base, "--upgrade", *spec.build_dependencies, *pins], timeout=options.timeout, env=env),
                      f"Installing the model's build_dependencies with pip{on}", remedy)
            if spec.requirements:
                log("installing requirements")
                # The file holds build deps + requirements: the same resolution the uv backend does.
                check(run([*base, "-r", str(reqs), *pins], timeout=options.timeout, env=env),
                      f"Installing the model's requirements with pip{on}", remedy)
            if spec.code_wheels:
                log(f"installing {len(spec.code_wheels)} code_path wheel(s)")
                wheels = requirement_lines(spec, model_dir, spec.code_wheels)
                check(run([*base, *wheels, *pins], timeout=options.timeout, env=env),
                      f"Installing the model's code_path wheels with pip{on}", remedy)
        frozen = run([python, "-m", "pip", "freeze", "--all", "--disable-pip-version-check"], timeout=120, env=env)
        return built_from(choice, python, tuple(frozen.stdout.splitlines()) if frozen.ok else (), cutoff)
