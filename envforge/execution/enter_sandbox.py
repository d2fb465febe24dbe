"""`envforge run` / `envforge shell` in verify's sandbox (issue 31), and the line that says what the command can see.

`--sandbox auto` (the default, as verify's), `on` or `off`. Sandboxed, the command runs under bubblewrap as the
model does under verify (execution/sandbox.py): no network, a scratch $HOME and /tmp, a read-only system, the env
and the model read-only, verify's limits; plus the current directory read-write (the user's debugging script and
its output live there), unless it is the home itself or holds it. Its environment is verify's: the basic variables,
--pass-env's, and the env's activation (PATH, VIRTUAL_ENV, MODEL_DIR): no credential. `--sandbox off` is the old
way: the user's whole environment and home, said as such. Under `auto` where bubblewrap cannot run, the command
gets the minimal environment but sees the files and the network, and the first line says so.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from envforge.backends.run_options import RunOptions
from envforge.execution.sandbox import HOME, Limits, _namespaces, _system, _unique, bwrap_path, choose, unavailable
from envforge.processes.proc import child_env, passed_env
from envforge.runner import sandbox_init_path, script_path
from envforge.secret_env import credentials_seen

ACTIVATION = ("PATH", "VIRTUAL_ENV", "MODEL_DIR", "ENVFORGE_ENV_KEY")


@dataclass(frozen=True)
class Entry:
    """How run/shell will run: `confined` under bubblewrap; `minimal` with verify's environment, not the user's."""

    mode: str
    confined: bool
    minimal: bool
    why_not: str | None      # auto where bubblewrap cannot run: why
    limits: Limits
    pass_env: tuple[str, ...]
    shared_dir: str | None   # the current directory, shared read-write with the sandboxed command

    def base_env(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """The variables the command starts from, before the env's activation."""
        environ = os.environ if environ is None else environ
        if not self.minimal:
            return dict(environ)
        return {k: v for k, v in child_env(passed_env(self.pass_env)).items() if not k.startswith("XDG_")}

    def first_line(self, environ: Mapping[str, str] | None = None) -> str:
        """What the command can see: network, the user's home, which environment variables."""
        base = self.base_env(environ)
        names = sorted({*base, *ACTIVATION, *(("HOME", "TMPDIR", "USER", "LOGNAME") if self.confined else ())})
        credentials = credentials_seen(base)
        if not self.minimal:
            return (f"UNSANDBOXED (--sandbox off): the command can see the network, your home ({Path.home()}) and your whole "
                    f"environment ({len(names)} variables{'; ' + credentials if credentials else ''})")
        variables = f"{len(names)} environment variables ({', '.join(names)}){'; ' + credentials if credentials else ', no credential'}"
        if not self.confined:
            return (f"UNSANDBOXED ({self.why_not}): the command can see the network and your home ({Path.home()}); "
                    f"it gets {variables}")
        where = (f"the current directory {self.shared_dir} read-write" if self.shared_dir
                 else "not the current directory (it holds your home): it starts in the scratch home")
        return (f"sandboxed (--sandbox {self.mode}): no network, not your home (a scratch $HOME), {where}, the env and the "
                f"model read-only; it can see {variables}")


def plan(options: RunOptions, cwd: str | None = None) -> Entry:
    """The entry --sandbox asks for (--sandbox on where bubblewrap cannot run: EnvBuildError, exit 3)."""
    limits = Limits(memory=options.memory, processes=options.max_processes, file_size=options.max_file_size,
                    open_files=options.max_open_files)
    sandbox, _ = choose(options.sandbox, limits, [])
    why = (unavailable() or "the sandbox cannot run here") if options.sandbox != "off" and sandbox is None else None
    return Entry(options.sandbox, sandbox is not None, options.sandbox != "off", why, limits, tuple(options.pass_env),
                 _shareable(cwd or os.getcwd()))


def _shareable(cwd: str) -> str | None:
    """The current directory, unless sharing it would share the user's home (or all of /)."""
    real, home = os.path.realpath(cwd), os.path.realpath(os.path.expanduser("~"))
    if real == "/" or home == real or home.startswith(real.rstrip("/") + "/"):
        return None
    return real


@contextmanager
def wrapped(entry: Entry, command: list[str], variables: dict[str, str], read_only: list[str], python: str, *,
            interactive: bool) -> Iterator[tuple[list[str], dict[str, str]]]:
    """(argv, environment) that run `command` as `entry` says; the scratch home and /tmp go when the block ends.
    FileNotFoundError when the command is not on the env's PATH (the caller says so, exit 127)."""
    if not entry.confined:
        yield command, variables
        return
    program = command[0] if "/" in command[0] else shutil.which(command[0], path=variables.get("PATH"))
    if not program:
        raise FileNotFoundError(command[0])
    scratch = Path(tempfile.mkdtemp(prefix="envforge-enter-"))
    try:
        for sub in ("home", "tmp"):
            (scratch / sub).mkdir()
        # --new-session keeps a command from typing into the user's terminal (TIOCSTI); an interactive shell needs
        # the terminal as its own to have job control, and the user is the one typing there.
        namespaces = [arg for arg in _namespaces() if not (interactive and arg == "--new-session")]
        outer = [bwrap_path(), *namespaces, *_system(), "--bind", str(scratch / "tmp"), "/tmp",
                 "--bind", str(scratch / "home"), HOME]
        for path in _unique([*read_only, str(script_path().parent)]):
            outer += ["--ro-bind", path, path]
        if entry.shared_dir:
            outer += ["--bind", entry.shared_dir, entry.shared_dir]
        outer += ["--remount-ro", "/", "--chdir", entry.shared_dir or HOME, "--"]
        inner = [python, "-I", "-S", str(sandbox_init_path()), "/tmp/.envforge-sandbox.json", *entry.limits.rlimits(), "--",
                 program, *command[1:]]
        env = {k: v for k, v in variables.items() if not k.startswith("XDG_")}
        env.update(HOME=HOME, TMPDIR="/tmp", USER="model", LOGNAME="model")
        yield [*outer, *inner], env
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
