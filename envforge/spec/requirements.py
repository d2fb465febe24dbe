"""requirements.txt and constraints.txt, as pip reads them, from an untrusted model directory.

Requirement lines are validated (PEP 508), `-r`/`-c` includes and local wheel paths are
resolved inside the model directory, and index options are kept to pass on faithfully.
Local files are kept as "./relative/path" so the result does not depend on where the model
directory happens to live (it feeds EnvSpec.key); the backends turn them into absolute paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from envforge.bounds import limits
from envforge.errors import ModelDirError
from envforge.spec.lines import logical_lines, split_option
from envforge.spec.paths import inside

_INCLUDE = {"-r": "requirement", "--requirement": "requirement", "-c": "constraint", "--constraint": "constraint"}
_VALUE_OPTIONS = {"-i": "--index-url", "--index-url": "--index-url", "--extra-index-url": "--extra-index-url",
                  "-f": "--find-links", "--find-links": "--find-links", "--trusted-host": "--trusted-host"}
_FLAG_OPTIONS = {"--no-index", "--pre", "--prefer-binary"}
_ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz")


@dataclass
class Parsed:
    requirements: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)  # "./rel" -> absolute path
    lines_read: int = 0  # logical lines of every file read so far, includes too (limits.REQUIREMENT_LINES)
    including: list[str] = field(default_factory=list)  # the chain of -r/-c files being read (an include cycle)


def parse_lines(lines: list[str], model_dir: Path, origin: str, parsed: Parsed | None = None,
                *, constraint: bool = False, depth: int = 0) -> Parsed:
    parsed = parsed if parsed is not None else Parsed()
    limits.INCLUDE_DEPTH.check(depth, f"{origin} (included by {' -> '.join(parsed.including[:-1]) or 'the model'})")
    limits.check_lines(lines, origin)  # bounded before any per-line work (issue 17)
    logical = logical_lines(lines)
    parsed.lines_read += len(logical)
    limits.REQUIREMENT_LINES.check(parsed.lines_read, origin if depth == 0 else f"{origin} (counted with the files that include it)")
    for number, line in logical:
        limits.LINE_CHARS.check(len(line), f"{origin}, line {number} (with its continuation lines)")
        where = f"{origin}, line {number}"
        _parse_line(line, where, model_dir, parsed, constraint, depth)
    return parsed


def parse_file(relative: str, model_dir: Path, parsed: Parsed | None = None, *, constraint: bool = False, depth: int = 0) -> Parsed:
    path = inside(model_dir, relative, f"the requirements file {relative!r}")
    if not path.is_file():
        raise ModelDirError(f"The model refers to {relative}, which is not in {model_dir}.", "Re-log the model so that the file is saved with it.")
    rel = path.relative_to(model_dir.resolve()).as_posix()
    parsed = parsed if parsed is not None else Parsed()
    if rel in parsed.including:
        raise ModelDirError(f"The requirement files include each other in a cycle: {' -> '.join([*parsed.including, rel])}.",
                            "Remove the -r/-c line that closes the cycle, or re-log the model.")
    text = limits.read_bounded(path, "text", where=rel)
    parsed.including.append(rel)
    try:
        return parse_lines(text.splitlines(), model_dir, rel, parsed, constraint=constraint, depth=depth)
    finally:
        parsed.including.pop()


def _parse_line(line: str, where: str, model_dir: Path, parsed: Parsed, constraint: bool, depth: int) -> None:
    if line.startswith("-"):
        _parse_option(line, where, model_dir, parsed, depth)
        return
    target = parsed.constraints if constraint else parsed.requirements
    local = _local_reference(line)
    if local is not None:
        path = inside(model_dir, local, f"{where}")
        if not path.is_file():
            raise ModelDirError(f"{where}: {local!r} is not a valid requirement, and no file of that name exists in the model directory.",
                                "Fix the line (a requirement such as `numpy==1.26.4`), re-log the model with that file, or remove the line.")
        key = "./" + path.relative_to(model_dir.resolve()).as_posix()
        parsed.files[key] = path
        target.append(key)
        return
    target.append(_validated(line, where))


def _parse_option(line: str, where: str, model_dir: Path, parsed: Parsed, depth: int) -> None:
    name, value = split_option(line)
    if name in _INCLUDE:
        if not value:
            raise ModelDirError(f"{where}: {name} needs a file name.", "Fix the requirements file.")
        parse_file(value, model_dir, parsed, constraint=_INCLUDE[name] == "constraint", depth=depth + 1)
    elif name in _VALUE_OPTIONS:
        if not value:
            raise ModelDirError(f"{where}: {name} needs a value.", "Fix the requirements file.")
        if _VALUE_OPTIONS[name] == "--find-links" and ("://" not in value or value.startswith("file:")):
            value = _local_links(value, where, model_dir, parsed)
        parsed.options += [_VALUE_OPTIONS[name], value]
    elif name in _FLAG_OPTIONS:
        parsed.options.append(name)
    else:
        raise ModelDirError(
            f"{where}: the option {line.split()[0]!r} is not supported in a model's requirements.",
            "Supported: -r, -c, --index-url, --extra-index-url, --find-links, --trusted-host, --no-index, --pre. Remove the line or re-log the model.",
        )


def _local_links(value: str, where: str, model_dir: Path, parsed: Parsed) -> str:
    """A local --find-links directory (or page) inside the model, as a "./relative" token; the
    archives it offers are hashed (parsed.files) so that changing them changes the env's key."""
    raw = value[len("file://"):] if value.startswith("file://") else value.removeprefix("file:")
    path = inside(model_dir, raw, f"{where} (--find-links)")
    if not path.exists():
        raise ModelDirError(f"{where}: --find-links {value!r} does not exist in the model directory.",
                            "Re-log the model with that directory, or remove the line.")
    root = model_dir.resolve()
    token = "./" + path.relative_to(root).as_posix()
    offered = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(_ARCHIVE_SUFFIXES)) if path.is_dir() else [path]
    for item in offered:
        real = inside(model_dir, str(item), f"{where} (--find-links {item.name})")
        parsed.files["./" + item.relative_to(root).as_posix()] = real
    return token


def _local_reference(line: str) -> str | None:
    """The path named by a requirement line that refers to a local file, else None."""
    if " @ " in line:
        url = line.split(" @ ", 1)[1].strip().split(";")[0].strip()
        return url[len("file://"):] if url.startswith("file://") else None
    if line.startswith("file:"):
        return line[len("file://"):] if line.startswith("file://") else line[len("file:"):]
    if "://" in line:
        return None
    head = line.split(";")[0].strip()
    if head.startswith((".", "/")) or "/" in head or head.endswith(_ARCHIVE_SUFFIXES):
        return head
    return None


def _validated(line: str, where: str) -> str:
    from packaging.requirements import InvalidRequirement, Requirement

    if "://" in line:  # a VCS or URL requirement: pip/uv validate it; keep it verbatim
        return line
    try:
        Requirement(line)
    except InvalidRequirement as exc:
        detail = str(exc).splitlines()[0]
        raise ModelDirError(f"{where}: {line!r} is not a valid requirement ({detail}).", "Fix the requirement line or re-log the model.") from None
    return line
