"""`envforge shell` and `envforge run`: a command, a shell or a Python REPL inside the rebuilt env.

The env is built or reused like verify's (envforge.pipeline), held "in use" for as long as the
command runs, and entered the way a virtualenv's activate script would: its bin directory
first on PATH, VIRTUAL_ENV set, the model directory in $MODEL_DIR. Under --sandbox auto/on (verify's
default) the command runs in verify's sandbox with verify's minimal environment (execution/enter_sandbox.py);
--sandbox off keeps the user's own environment and home. Either way the variables that would make Python look
outside the env (PYTHONPATH, PYTHONHOME, another venv or conda env) go, and the first line printed says what the
command can see.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from envforge.backends import get_backend
from envforge.backends.base import BuildOptions, ContainerBackend, Env
from envforge.backends.run_options import RunOptions
from envforge.errors import UsageError
from envforge.execution import enter_sandbox, java
from envforge.execution.sandbox import interpreter_paths
from envforge.pipeline import LoadedModel, load_model, open_env
from envforge.processes.proc import run_attached

_DROP_PREFIXES = ("PYTHON", "CONDA_", "VIRTUAL_ENV", "__PYVENV")
NOT_FOUND, NOT_EXECUTABLE = 127, 126
_CONTAINER = ("in a container (the container is the sandbox): no network, not your home, the model read-only at $MODEL_DIR; "
              "it can see 2 environment variables (PATH, MODEL_DIR) and the image's own, no credential")


def enter(uri: str, argv: list[str] | None, *, python: bool = False, build: BuildOptions | None = None,
          run: RunOptions | None = None, announce: Callable[[str], None] | None = None, **load: object) -> int:
    """Run `argv` (None: an interactive shell, or a Python REPL with python=True) in the model's
    rebuilt env and return its exit code. `load` goes to envforge.pipeline.load_model (its `download` too)."""
    if argv is not None and not argv:
        raise UsageError("No command given to run.", "Put the command after `--`, e.g. `envforge run URI -- python my_debug.py`.")
    build, run = build or BuildOptions(), run or RunOptions()
    say = announce or (lambda text: None)
    container = isinstance(get_backend(str(load.get("backend") or "uv")), ContainerBackend)
    entry = enter_sandbox.plan(replace(run, sandbox="off") if container else run)  # a container is its own sandbox
    say(_CONTAINER if container else entry.first_line())  # before anything else: what the command can see (issue 31)
    loaded = load_model(uri, build=build, **load)  # type: ignore[arg-type]
    with open_env(loaded, build, say, run=run) as env:
        command = argv if argv is not None else (["python"] if python else ["/bin/sh" if container else _shell()])
        interactive = argv is None and sys.stdin.isatty()
        if container:  # a container of the env image with the model mounted; the docker CLI gets the user's env
            full = loaded.backend.interactive(env.path, loaded.model.path, list(command), tty=interactive)
            variables = dict(os.environ)
        else:
            full, variables = loaded.backend.command(env.path, env.python, list(command)), env_vars(env, loaded, entry.base_env())
        if argv is None:
            where = f"a container of {env.key[:12]}, the model ({loaded.model.path}) mounted" if container else str(env.path)
            say(f"entering the rebuilt environment of {uri}: python {env.python_version}, {where}; "
                f"the model is in $MODEL_DIR{'' if container else f' ({loaded.model.path})'}; exit to leave")
        jvm = java.for_env(env.path)  # pyspark: the JRE's files outside /usr
        if jvm and entry.minimal:
            variables.update(jvm.variables(env.python))
        read_only = [*interpreter_paths(env.path, env.python), str(loaded.model.path.resolve()), *(jvm.read_only if jvm else ())]
        try:
            with enter_sandbox.wrapped(entry, full, variables, read_only, env.python, interactive=interactive) as (final, final_env):
                return run_attached(final, env=final_env)
        except FileNotFoundError:
            say(f"{full[0]}: command not found in the environment or on PATH")
            return NOT_FOUND
        except PermissionError:
            say(f"{full[0]}: permission denied")
            return NOT_EXECUTABLE


def env_vars(env: Env, loaded: LoadedModel, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The user's environment with the env activated and $MODEL_DIR set."""
    environ = os.environ if environ is None else environ
    out = {k: v for k, v in environ.items() if not k.startswith(_DROP_PREFIXES)}
    bin_dir = str(Path(env.python).parent)
    out["PATH"] = os.pathsep.join([bin_dir, *(p for p in environ.get("PATH", os.defpath).split(os.pathsep) if p != bin_dir)])
    out["VIRTUAL_ENV"] = str(env.path)
    out["MODEL_DIR"] = str(loaded.model.path)
    out["ENVFORGE_ENV_KEY"] = env.key
    return out


def _shell() -> str:
    shell = os.environ.get("SHELL")
    if shell and Path(shell).is_file():
        return shell
    return "cmd.exe" if sys.platform == "win32" else "/bin/sh"
