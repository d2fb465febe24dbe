"""Find an installed CPython interpreter for the Python version a model was logged with.

Sources, in order of preference for the same binary: pyenv, uv-managed installs, PATH.
Nothing is cached on disk; interpreters are run (argv list, timeout, never a shell) only
when their version cannot be read from their install directory's name.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from envforge.errors import InterpreterNotFound
from envforge.processes.proc import child_env, run

PROBE_TIMEOUT = 10
DOWNLOAD_TIMEOUT = 600
MATCH_POLICIES = ("exact", "minor", "auto")
_PROBE = (  # also runs on Python 2, so an old interpreter is recognised rather than "broken"
    "import sys, platform; print('%d.%d.%d %s %s' % "
    "(sys.version_info[:3] + (platform.python_implementation(), sys.executable)))"
)
_PATH_NAME = re.compile(r"^python(3(\.\d+)?)?$")
_PLAIN_VERSION = re.compile(r"^(\d+\.\d+\.\d+)$")
_UV_DIR = re.compile(r"^cpython-(\d+\.\d+\.\d+)-")


@dataclass(frozen=True)
class Interpreter:
    path: str
    version: str
    source: str  # "explicit" | "path" | "pyenv" | "uv"

    @property
    def version_tuple(self) -> tuple[int, ...]:
        return parse_version(self.version) or (0,)


@dataclass(frozen=True)
class Choice:
    interpreter: Interpreter
    wanted: str | None
    reason: str
    warning: str | None


def parse_version(text: str) -> tuple[int, ...] | None:
    """"3.11.7" -> (3, 11, 7); "3.9" -> (3, 9); anything that is not a plain X.Y[.Z] -> None."""
    try:
        version = Version(text.strip())
    except (InvalidVersion, AttributeError):
        return None
    if version.epoch or version.local or version.post is not None or version.dev is not None:
        return None
    if not 2 <= len(version.release) <= 3:
        return None
    return version.release


def _fmt(version: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version)


def _probe(path: str) -> tuple[str, str, str] | None:
    """Run an interpreter: (version "X.Y.Z", implementation, sys.executable), or None if it fails."""
    try:  # the user's own environment: an interpreter may need e.g. LD_LIBRARY_PATH to start at all
        done = run([path, "-E", "-s", "-c", _PROBE], timeout=PROBE_TIMEOUT, env=dict(os.environ))
    except OSError:
        return None
    parts = done.stdout.strip().split(" ", 2)
    if not done.ok or len(parts) != 3 or parse_version(parts[0]) is None:
        return None
    return parts[0], parts[1], parts[2]


def python_version_of(path: str) -> str:
    """The "X.Y.Z" version of the interpreter at `path` (InterpreterNotFound if it does not run)."""
    probed = _probe(path)
    if probed is None:
        raise InterpreterNotFound(
            f"{path} is not a working Python interpreter.",
            "Pass --python the path of a Python executable that runs.",
        )
    return probed[0]


def _pyenv_root() -> str:
    return os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")


def _is_shim(path: str) -> bool:
    """True for anything inside a pyenv shims directory (pyenv's own or a plugin's)."""
    parent = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    in_pyenv = parent.startswith(os.path.realpath(_pyenv_root()) + os.sep) or "pyenv" in parent
    return os.path.basename(parent) == "shims" and in_pyenv


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _from_probe(path: str, source: str) -> Interpreter | None:
    probed = _probe(path)
    if probed is None or probed[1] != "CPython":
        return None
    version, _, executable = probed
    if _is_shim(path):  # report the interpreter the shim ran, never the shim
        path = executable
    return None if not path or _is_shim(path) else Interpreter(os.path.abspath(path), version, source)


def _scan(base: str, source: str, name_re: re.Pattern[str], probe_others: bool) -> list[Interpreter]:
    """<base>/<name>/bin/python3 for each install dir; the version comes from the name when it can."""
    found = []
    for name in sorted(os.listdir(base)) if os.path.isdir(base) else []:
        path, named = os.path.join(base, name, "bin", "python3"), name_re.match(name)
        if not _is_executable(path):
            continue
        if named:
            found.append(Interpreter(os.path.abspath(path), named.group(1), source))
        elif probe_others and (interp := _from_probe(path, source)) is not None:
            found.append(interp)
    return found


def _uv_dir() -> str:
    if os.environ.get("UV_PYTHON_INSTALL_DIR"):
        return os.environ["UV_PYTHON_INSTALL_DIR"]
    data = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return os.path.join(data, "uv", "python")


def _path_candidates(entries: Sequence[str]) -> list[str]:
    """Executables named python / python3 / python3.X in directories (or given directly)."""
    paths = []
    for entry in entries:
        if not entry:
            continue
        if os.path.isfile(entry):
            paths.append(entry)
        elif os.path.isdir(entry) and not _is_shim(os.path.join(entry, "python")):
            paths.extend(os.path.join(entry, n) for n in sorted(os.listdir(entry)) if _PATH_NAME.match(n))
    return [p for p in paths if _is_executable(p)]


def discover(extra_paths: Sequence[str] = ()) -> list[Interpreter]:
    """All installed CPython 3.x interpreters, deduplicated by realpath, newest first.

    `extra_paths` are executables or directories searched before PATH.
    """
    found = _scan(os.path.join(_pyenv_root(), "versions"), "pyenv", _PLAIN_VERSION, True)
    found += _scan(_uv_dir(), "uv", _UV_DIR, False)
    seen = {os.path.realpath(i.path) for i in found}
    for path in _path_candidates([*extra_paths, *os.environ.get("PATH", "").split(os.pathsep)]):
        if os.path.realpath(path) not in seen:
            seen.add(os.path.realpath(path))
            found += [i for i in [_from_probe(path, "path")] if i is not None]
    unique: dict[str, Interpreter] = {}
    for interp in found:
        if interp.version_tuple[0] == 3:
            unique.setdefault(os.path.realpath(interp.path), interp)
    return sorted(unique.values(), key=lambda i: i.version_tuple, reverse=True)


def _satisfies(version: tuple[int, ...], wanted: tuple[int, ...]) -> bool:
    return version[: len(wanted)] == wanted


def _match(wanted: tuple[int, ...], match: str, candidates: list[Interpreter]) -> Choice | None:
    ordered = sorted(candidates, key=lambda i: i.version_tuple, reverse=True)
    exact = [i for i in ordered if _satisfies(i.version_tuple, wanted)]
    text = _fmt(wanted)
    if exact:
        kind = "exact match" if len(wanted) == 3 else "newest match for"
        return Choice(exact[0], text, f"{kind} {text} from {exact[0].source}", None)
    same_minor = [i for i in ordered if _satisfies(i.version_tuple, wanted[:2])]
    if match == "exact" or not same_minor:
        return None
    best = same_minor[0]
    note = f"no {text} installed; using {best.version} (same minor) from {best.source}"
    return Choice(best, text, note, f"The model was logged with Python {text} but {best.version} will be used.")


def _default(candidates: list[Interpreter]) -> Choice | None:
    ordered = sorted(candidates, key=lambda i: i.version_tuple, reverse=True)
    own = tuple(sys.version_info[:2])
    mine = [i for i in ordered if i.version_tuple[:2] == own]
    if not ordered:
        return None
    best, why = (mine[0], f"envforge's own {_fmt(own)}") if mine else (ordered[0], "the newest")
    return Choice(best, None, f"no Python version logged; using {best.version} ({why}) from {best.source}", None)


def _explicit(path: str, wanted: str | None, parsed: tuple[int, ...] | None) -> Choice:
    if not _is_executable(path):
        raise InterpreterNotFound(f"--python {path} is not an executable file.", "Pass --python a Python executable.")
    version, _, executable = _probe(path) or (python_version_of(path), "", "")  # raises if it does not run
    resolved = executable if _is_shim(path) else path
    if not resolved or _is_shim(resolved):
        raise InterpreterNotFound(f"--python {path} is a pyenv shim that did not resolve.", "Pass the real path.")
    interp = Interpreter(os.path.abspath(resolved), version, "explicit")
    warning = None
    if wanted is not None and parsed is None:
        warning = f"The model's logged Python {wanted!r} is not a version; using {version} as given."
    elif parsed is not None and not _satisfies(interp.version_tuple, parsed):
        warning = f"The model was logged with Python {_fmt(parsed)} but --python {path} is {version}."
    return Choice(interp, wanted, f"explicit --python {path} ({version})", warning)


def _download(version: str) -> str | None:
    """`uv python install version`; None on success, else why it failed."""
    argv = ["uv", "python", "install", version]
    try:
        import uv

        argv[0] = uv.find_uv_bin()
        done = run(argv, timeout=DOWNLOAD_TIMEOUT, env=child_env())
    except (ImportError, OSError) as exc:
        return f"`uv python install {version}` could not run: {exc}"
    if done.timed_out:
        return f"`uv python install {version}` failed: it timed out after {DOWNLOAD_TIMEOUT} s"
    if not done.ok:
        return f"`uv python install {version}` failed: {' '.join(done.tail(3).splitlines())}"
    return None


def _not_found(
    text: str, match: str, pool: list[Interpreter], allow_download: bool, offline: bool, why: str | None
) -> InterpreterNotFound:
    versions = dict.fromkeys(i.version for i in sorted(pool, key=lambda i: i.version_tuple, reverse=True))
    message = f"No Python {text} interpreter is installed (found: {', '.join(versions) or 'none'})."
    if allow_download and offline:
        message += " Downloading one is impossible offline."
    if why:
        message += f" {why.rstrip('.')}."
    remedies = [f"install it (`pyenv install {text}` or `uv python install {text}`)", "pass --python PATH"]
    if match == "exact" and text.count(".") == 2:
        remedies.append(f"use --python-match minor to accept another {text.rsplit('.', 1)[0]}.x")
    if not allow_download:
        remedies.append("pass --allow-python-download to let uv fetch it")
    return InterpreterNotFound(message, "To fix it, " + ", ".join(remedies[:-1]) + f", or {remedies[-1]}.")


def choose(
    wanted: str | None,
    *,
    match: str = "auto",
    explicit: str | None = None,
    allow_download: bool = False,
    offline: bool = False,
    candidates: list[Interpreter] | None = None,
) -> Choice:
    """Pick the interpreter for `wanted` ("3.11.7", "3.11" or None).

    match: "exact" needs the same X.Y.Z; "minor" and "auto" take it if installed, else the highest
    patch of the same X.Y with a warning. `explicit` (--python) is used as is, with a warning when
    it does not satisfy `wanted`. When nothing matches, `uv python install` is tried only if
    allow_download and not offline; otherwise (or if that fails) InterpreterNotFound is raised.
    `candidates` replaces discover() (for tests and callers that already discovered).
    """
    if match not in MATCH_POLICIES:
        raise ValueError(f"match must be one of {MATCH_POLICIES}, not {match!r}")
    parsed = parse_version(wanted) if wanted is not None else None
    if explicit is not None:
        return _explicit(explicit, wanted, parsed)
    if wanted is not None and parsed is None:
        raise InterpreterNotFound(f"{wanted!r} is not a Python version.", "Pass --python PATH to choose one yourself.")
    pool = discover() if candidates is None else list(candidates)
    choice = _default(pool) if parsed is None else _match(parsed, match, pool)
    if choice is not None:
        return choice
    text, why = (_fmt(parsed) if parsed is not None else "3"), None
    if allow_download and not offline and parsed is not None:
        why = _download(text)
        if why is None:
            pool = discover()
            choice = _match(parsed, match, pool)
            if choice is not None:
                return choice
            why = f"`uv python install {text}` succeeded but no matching interpreter was found afterwards"
    raise _not_found(text, match, pool, allow_download, offline, why)
