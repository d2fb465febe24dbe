"""The model's sandbox under the local backends: the ONE place the runner's argv is wrapped.

A model directory is untrusted code. Under uv, virtualenv and conda the runner (and everything the model
starts) runs inside bubblewrap (`bwrap`, Debian's `bubblewrap`): new user, PID, network, IPC, UTS and
cgroup namespaces; a read-only root with only /usr, a few files of /etc, the env, the interpreter's own
prefix, the model directory and the runner; a fresh $HOME and /tmp in a scratch directory removed
afterwards; read-write only the request/result workdir. bubblewrap rather than `unshare`: unshare gives the
namespaces but no way to build a filesystem view from binds without a root-run mount script, while bwrap
does exactly that, works unprivileged wherever user namespaces do, and dies with its parent
(--die-with-parent). Inside, runner/sandbox_init.py sets the limits (so they bind the model, not
bwrap), runs the runner and lists what the model left running; the PID namespace ends with it, so nothing
the model starts outlives the run.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from envforge.bounds.limits import read_bounded
from envforge.bounds.parsing import load_json
from envforge.errors import EnvBuildError, ModelRunError, UsageError
from envforge.execution import probe_memo, pycache
from envforge.execution.cgroup import PidsCgroup
from envforge.processes.proc import Outcome, run
from envforge.runner import sandbox_init_path, script_path

MODES = ("auto", "on", "off")
HOME = "/home/model"
# What of /etc a Python process needs (the loader's cache, time zones, CA certificates); nothing with secrets.
_ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "zoneinfo", "ssl", "ca-certificates",
        "ca-certificates.conf", "pki", "crypto-policies", "alternatives", "nsswitch.conf", "host.conf", "hosts",
        "mime.types", "os-release", "debian_version", "fonts", "protocols", "services", "gai.conf")
_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str, option: str = "--memory") -> int:
    """`4g`, `300m`, `1024k`, `2147483648` -> bytes (docker's notation)."""
    value = text.strip().lower().removesuffix("b")
    unit = _UNITS.get(value[-1:], 1) if value else 1
    number = value[:-1] if value[-1:] in _UNITS else value
    try:
        size = int(float(number) * unit)
    except ValueError:
        size = 0
    if size <= 0:
        raise UsageError(f"{option} {text}: not a size.", f"Give a size such as 4g, 300m or 1048576 to {option}.")
    return size


@dataclass(frozen=True)
class Limits:
    memory: str = "4g"         # RLIMIT_AS of each of the model's processes (docker's --memory default)
    processes: int = 512       # tasks (threads count) in the sandbox: RLIMIT_NPROC, for root a pids cgroup
    file_size: str = "2g"      # RLIMIT_FSIZE: the largest file the model may write
    open_files: int = 1024     # RLIMIT_NOFILE

    def rlimits(self) -> list[str]:
        return [f"memory={parse_size(self.memory)}", f"processes={self.processes}",
                f"file_size={parse_size(self.file_size, '--max-file-size')}", f"open_files={self.open_files}"]

    def to_dict(self) -> dict[str, Any]:
        return {"memory": self.memory, "processes": self.processes, "file_size": self.file_size,
                "open_files": self.open_files}


OPTION_OF = {"memory": "--memory", "processes": "--max-processes", "file_size": "--max-file-size",
             "open_files": "--max-open-files", "timeout": "--predict-timeout"}


@dataclass(frozen=True)
class Sandbox:
    """How one model's runner is confined; `report` (the JSON report's `sandbox`) is filled in by each run."""

    limits: Limits
    read_only: tuple[str, ...]                  # env, interpreter prefix, model dirs
    network: bool = False                       # serve-check: the host must reach the scoring server on loopback
    report: dict[str, Any] = field(default_factory=dict)

    @contextmanager
    def wrap(self, argv: Sequence[str], python: str, workdir: Path, variables: dict[str, str], timeout: float,
             fresh_env: Path | None = None, first_imports: tuple[str, ...] = ()) -> Iterator[tuple[list[str], dict[str, str]]]:
        """(argv, environment) that run `argv` in the sandbox; the scratch home and cgroup go when the block ends.
        `fresh_env`: a new env, read-only here, whose first run's imports envforge compiles into it (execution/pycache.py),
        `first_imports` the modules that run will import (pycache.first_imports)."""
        scratch = Path(tempfile.mkdtemp(prefix="envforge-sandbox-"))
        cgroup = PidsCgroup.create(self.limits.processes)
        compiler = pycache.for_new_env(scratch / "tmp", fresh_env, python, scratch, first_imports) if fresh_env else None
        try:
            for sub in ("home", "tmp"):
                (scratch / sub).mkdir()
            state = workdir / "sandbox.json"
            inner = [python, "-I", "-S", str(sandbox_init_path()), str(state), *self.limits.rlimits(), "--", *argv]
            outer = [*(cgroup.launcher() if cgroup else []), bwrap_path(), *_namespaces(), *(["--share-net"] if self.network else []), *_system(),
                     "--bind", str(scratch / "tmp"), "/tmp", "--bind", str(scratch / "home"), HOME]
            for path in _unique([*self.read_only, str(script_path().parent)]):
                outer += ["--ro-bind", path, path]
            outer += ["--bind", str(workdir), str(workdir), "--remount-ro", "/", "--chdir", str(workdir), "--"]
            env = {k: v for k, v in variables.items() if not k.startswith("XDG_")}
            env.update(HOME=HOME, TMPDIR="/tmp", USER="model", LOGNAME="model", **(compiler.variables() if compiler else {}))
            self.report.clear()
            self.report.update(network=self.network, home="scratch", limits={**self.limits.to_dict(), "timeout": timeout},
                               limit_hit=None, leftovers=[])
            if compiler:
                compiler.start()
            yield [*outer, *inner], env
            self._note(state, cgroup)
            if compiler:
                compiler.finish()
                self.report["bytecode"] = {"compiled_ahead": compiler.ahead, "compiled_after": compiler.compiled}
        finally:
            if compiler:
                compiler.stop()
            if cgroup:
                cgroup.remove()
            shutil.rmtree(scratch, ignore_errors=True)

    def _note(self, state: Path, cgroup: PidsCgroup | None) -> None:
        try:  # bounded like the runner's answer: the sandboxed side writes it (issue 17)
            found = load_json(read_bounded(state, "json", error=ModelRunError), "the sandbox's state", ModelRunError)
        except (ModelRunError, ValueError):
            found = {}
        found = found if isinstance(found, dict) else {}
        self.report["leftovers"] = list(found.get("leftovers") or [])
        if found.get("signal") == "SIGXFSZ":
            self.report["limit_hit"] = "file_size"
        if cgroup and cgroup.hit():
            self.report["limit_hit"] = "processes"

    def check(self, data: dict[str, Any] | None, outcome: Outcome) -> None:
        """After a run: raise ModelRunError naming the limit the model hit, or the processes it left running."""
        if outcome.timed_out:  # execute_runner names the timeout (--predict-timeout) itself
            self.report["limit_hit"] = "timeout"
            return
        hit = self.report.get("limit_hit") or limit_in_errors(data)
        if hit:
            self.report["limit_hit"] = hit
            raise ModelRunError(
                f"The model was stopped by the sandbox: it hit the {hit.replace('_', ' ')} limit "
                f"({OPTION_OF[hit]} {self.report['limits'][hit]}); its processes were killed.",
                f"If the model legitimately needs more, raise {OPTION_OF[hit]}.")
        if self.report.get("leftovers"):
            left = self.report["leftovers"]
            raise ModelRunError(
                f"The model left {len(left)} process(es) running after the runner finished (a daemon?): "
                f"{'; '.join(left[:3])}. The sandbox killed them.",
                "A model's predict() must not start background processes that outlive it.")


def limit_in_errors(data: dict[str, Any] | None) -> str | None:
    """Which limit the model's own errors show it hit (an rlimit makes the call fail rather than kill)."""
    errors = [(data or {}).get("load", {}).get("error") or {}]
    errors += [e.get("error") or {} for e in (data or {}).get("examples") or []]
    errors += [(m.get("load") or {}).get("error") or {} for m in (data or {}).get("models") or []]
    for error in errors:
        text = f"{error.get('type')}: {error.get('message')}"
        if error.get("type") == "MemoryError" or "Cannot allocate memory" in text:
            return "memory"
        if "File too large" in text or "[Errno 27]" in text:
            return "file_size"
        if "Too many open files" in text or "[Errno 24]" in text:
            return "open_files"
        if "Resource temporarily unavailable" in text and ("fork" in text.lower() or error.get("type") == "BlockingIOError"):
            return "processes"
    return None


def _namespaces() -> list[str]:
    return ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--hostname", "sandbox"]


def _system() -> list[str]:
    """The read-only system: /usr (merged-/usr links or binds for /bin, /lib...), a few files of /etc,
    a new /proc and /dev."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for name in _ETC:
        if os.path.lexists(f"/etc/{name}"):
            args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return [*args, "--proc", "/proc", "--dev", "/dev"]


def interpreter_paths(env_dir: Path, python: str) -> list[str]:
    """The env and the interpreter's own files: the prefix of the env's python (symlinks followed) and,
    for a venv, the prefix pyvenv.cfg's `home` names (the base interpreter lives outside the env)."""
    paths = [str(env_dir.resolve())]
    real = Path(os.path.realpath(python))
    paths.append(str(real.parent.parent))
    cfg = env_dir / "pyvenv.cfg"
    if cfg.is_file():
        for line in cfg.read_text(errors="replace").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home" and value.strip():
                paths.append(str(Path(os.path.realpath(value.strip())).parent))
    never = {"/", "/usr", os.path.realpath(os.path.expanduser("~"))}  # /usr is bound anyway; never the whole home
    return [p for p in paths if p not in never and not p.startswith("/usr/")]


def _unique(paths: list[str]) -> list[str]:
    """Each path once, a parent before what is under it, none that does not exist."""
    seen: list[str] = []
    for path in sorted({os.path.realpath(p) for p in paths if p and os.path.exists(p)}):
        seen.append(path)
    return seen


def bwrap_path() -> str:
    return shutil.which("bwrap") or "bwrap"


@lru_cache(maxsize=1)
def unavailable() -> str | None:
    """None when the sandbox works on this machine, else why not (once per process: a probe run)."""
    if not sys.platform.startswith("linux"):
        return f"the sandbox is built on Linux namespaces, and this is {sys.platform}"
    if not shutil.which("bwrap"):
        return "bubblewrap is not installed (Debian/Ubuntu: `apt-get install bubblewrap`; Fedora: `dnf install bubblewrap`)"
    probe = run([bwrap_path(), *_namespaces(), *_system(), "--", "/usr/bin/env", "true"], timeout=30)
    if probe.ok:
        probe_memo.note_passed()
    else:
        return (f"bubblewrap cannot create its namespaces here ({probe.tail(3) or probe.describe()}); unprivileged user "
                "namespaces may be disabled (sysctl kernel.unprivileged_userns_clone, or AppArmor's "
                "kernel.apparmor_restrict_unprivileged_userns)")
    return None


def why_unavailable(trust_earlier_probe: bool = False) -> str | None:
    """unavailable(), or None at once where a probe passed on this boot and the caller may trust it
    (execution/probe_memo.py: head starts only)."""
    return None if trust_earlier_probe and probe_memo.passed_before() else unavailable()


def choose(mode: str, limits: Limits, read_only: Sequence[str], trust_earlier_probe: bool = False) -> tuple[Sandbox | None, str | None]:
    """(the sandbox or None, a warning): `auto` runs unsandboxed with a warning where it cannot; `on` refuses.
    `trust_earlier_probe`: a probe that passed on this boot counts (execution/probe_memo.py: head starts only)."""
    if mode not in MODES:
        raise UsageError(f"--sandbox {mode}: not one of {', '.join(MODES)}.", "")
    if mode == "off":
        return None, None
    why = why_unavailable(trust_earlier_probe)
    if why and mode == "on":
        raise EnvBuildError(f"--sandbox on: the model cannot be run in a sandbox here: {why}.",
                            "Install bubblewrap and allow user namespaces, or pass --sandbox auto/off to run the model "
                            "unconfined (with your files and the network).")
    if why:
        return None, (f"the model ran WITHOUT a sandbox ({why}): it could read your files and secrets, use the network "
                      "and leave processes behind; use --sandbox on to refuse that")
    return Sandbox(limits, tuple(_unique(list(read_only)))), None


UNSANDBOXED = {"network": True, "home": "user", "limits": {}}


@contextmanager
def sandboxed(sandbox: Sandbox | None, argv: list[str], python: str, workdir: Path,
              variables: dict[str, str], timeout: float) -> Iterator[tuple[list[str], dict[str, str]]]:
    """(argv, environment) in `sandbox`, or unchanged without one (serve-check's server)."""
    if sandbox is None:
        yield argv, variables
        return
    with sandbox.wrap(argv, python, workdir, variables, timeout) as wrapped:
        yield wrapped
