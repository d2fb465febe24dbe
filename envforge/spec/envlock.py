"""Exact locks: the rebuilt env written as `name==version --hash=...` lines, and read back.

`envforge lock` writes one from a built env's installed set (backends/exact_lock.py); `verify --lock FILE` and a lock stored
with the model by `record --lock` replace the model's requirements in the EnvSpec, so the env
gets its own cache key. Packages installed from the model's own files (code_path wheels,
`./wheels/...` requirements) are not locked: they stay pinned by their content hash in the spec.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from envforge.bounds import limits
from envforge.errors import ModelDirError
from envforge.spec import EnvSpec
from envforge.spec.lines import logical_lines, split_option

LOCK_FILENAME = "envforge-lock.txt"
_PYTHON_RE = re.compile(r"^#\s*python:\s*(\S+)")
_OPTIONS = {"-i": "--index-url", "--index-url": "--index-url", "--extra-index-url": "--extra-index-url",
            "-f": "--find-links", "--find-links": "--find-links", "--trusted-host": "--trusted-host"}
_REMEDY = "Re-create the lock with `envforge lock URI -o FILE`."


@dataclass(frozen=True)
class Installed:
    name: str       # canonical (PEP 503) name
    version: str    # a version, or "@ <url>" for a package installed from a URL or file
    line: str       # as the installer's freeze printed it

    @property
    def local(self) -> bool:
        return self.version.startswith("@ file:")


@dataclass(frozen=True)
class Lock:
    source: str
    requirements: tuple[str, ...]   # "name==version --hash=sha256:..." (hashes sorted), one per package
    options: tuple[str, ...]        # index options, as pairs or flags
    python: str | None              # the Python version the lock was written for


def installed_packages(installed: tuple[str, ...] | list[str]) -> list[Installed]:
    """Parse a freeze ("name==version", "name @ url"); tolerates a freeze split on whitespace."""
    from packaging.utils import canonicalize_name

    lines: list[str] = []
    for token in (t.strip() for t in installed if t.strip()):
        if lines and token == "@":
            lines[-1] += " @"
        elif lines and lines[-1].endswith(" @"):
            lines[-1] += " " + token
        else:
            lines.append(token)
    out = []
    for line in lines:
        if line.startswith(("-e", "#")):
            continue
        if " @ " in line:
            name, url = line.split(" @ ", 1)
            out.append(Installed(str(canonicalize_name(name.strip())), f"@ {url.strip()}", line))
        elif "==" in line:
            name, version = line.split("==", 1)
            out.append(Installed(str(canonicalize_name(name.strip())), version.strip(), line))
    return out


def read_lock(path: Path, source: str | None = None) -> Lock:
    """Parse a lock file; every requirement must be an exact pin (or a URL)."""
    where = source or str(path)
    text = limits.read_bounded(path, "text", where=f"the lock {where}", remedy=_REMEDY)
    lines = text.splitlines()
    limits.check_lines(lines, f"the lock {where}")
    logical = logical_lines(lines)
    limits.REQUIREMENT_LINES.check(len(logical), f"the lock {where}", remedy=_REMEDY)
    python = next((m.group(1) for m in map(_PYTHON_RE.match, lines) if m), None)
    requirements, options = [], []
    for number, line in logical:
        if line.startswith("-"):
            options += _option(line, f"{where}, line {number}")
        else:
            requirements.append(_requirement(line, f"{where}, line {number}"))
    if not requirements:
        raise ModelDirError(f"The lock {where} names no packages.", _REMEDY)
    return Lock(where, tuple(requirements), tuple(options), python)


def apply_lock(spec: EnvSpec, lock: Lock) -> EnvSpec:
    """The EnvSpec that installs exactly the lock's set (plus the model's own local files)."""
    local = tuple(r for r in spec.requirements if r.startswith("./"))
    notes = [f"installing the exact package set locked in {lock.source} instead of the model's requirements"]
    if lock.python and spec.python and lock.python.split(".")[:2] != spec.python.split(".")[:2]:
        notes.append(f"the lock was written for Python {lock.python}, the model was logged with {spec.python}")
    return replace(spec, build_dependencies=(), requirements=lock.requirements, constraints=(),
                   index_options=spec.index_options + lock.options, code_wheels=local + spec.code_wheels,
                   notes=spec.notes + tuple(notes))


def _option(line: str, where: str) -> list[str]:
    name, value = split_option(line)
    if name == "--no-index":
        return [name]
    if name not in _OPTIONS or not value:
        raise ModelDirError(f"{where}: {line.split()[0]!r} is not allowed in a lock.",
                            "A lock holds pinned requirements with --hash, and index options (--index-url, --extra-index-url, "
                            "--find-links URL, --trusted-host, --no-index).")
    if _OPTIONS[name] == "--find-links" and "://" not in value:
        raise ModelDirError(f"{where}: --find-links in a lock must be a URL, not a local path.", _REMEDY)
    return [_OPTIONS[name], value]


def _requirement(line: str, where: str) -> str:
    from packaging.requirements import InvalidRequirement, Requirement

    tokens = line.split()
    cut = next((i for i, t in enumerate(tokens) if t.startswith("--")), len(tokens))
    text, rest = " ".join(tokens[:cut]), tokens[cut:]
    hashes = []
    while rest:
        token = rest.pop(0)
        if token == "--hash" and rest:
            token = "--hash=" + rest.pop(0)
        if not token.startswith("--hash=") or ":" not in token:
            raise ModelDirError(f"{where}: only --hash=ALGO:DIGEST may follow a requirement in a lock, not {token!r}.", _REMEDY)
        hashes.append(token[len("--hash="):])
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        raise ModelDirError(f"{where}: {text!r} is not a valid requirement ({str(exc).splitlines()[0]}).", _REMEDY) from None
    exact = len(req.specifier) == 1 and next(iter(req.specifier)).operator in ("==", "===") and "*" not in str(req.specifier)
    if req.url and req.url.startswith("file:"):
        raise ModelDirError(f"{where}: a lock cannot name local files ({text!r}).", _REMEDY)
    if not (exact or req.url):
        raise ModelDirError(f"{where}: {text!r} is not an exact pin (name==version): this is not a lock.", _REMEDY)
    return " ".join([text, *(f"--hash={h}" for h in sorted(hashes))])
