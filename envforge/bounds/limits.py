"""Every bound envforge puts on untrusted input, in one table (issue 17).

A model directory, a tracking server's answers and the runner's answer are all untrusted input to
envforge's own process, not only to the model. Each limit here is far above what a real model
reaches, is checked before the input is parsed (so parsing stays linear and small), and can be
raised with its environment variable for the rare model that needs more. Going over one is an
error naming the file, the limit, the figure found and that variable.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from envforge.errors import EnvforgeError, ModelDirError, UsageError

MB = 1024 * 1024


@dataclass(frozen=True)
class Limit:
    variable: str   # the environment variable that raises it
    default: int
    unit: str       # "bytes", "lines", "levels", ...
    what: str       # what is counted, for the README and messages

    @property
    def value(self) -> int:
        raw = os.environ.get(self.variable, "").strip()
        if not raw:
            return self.default
        try:
            value = int(raw.replace("_", ""))
        except ValueError:
            raise UsageError(f"{self.variable}={raw!r} is not a whole number.",
                             f"Set {self.variable} to a number of {self.unit} (default {self.default}), or unset it.") from None
        if value <= 0:
            raise UsageError(f"{self.variable}={raw!r} must be positive.", f"Unset it to use the default ({self.default}).")
        return value

    def check(self, found: int, where: str, error: type[EnvforgeError] = ModelDirError, remedy: str = "",
              *, at_least: bool = False) -> None:
        """Raise `error` if `found` is over the limit; `where` names the file (and what in it); `at_least`:
        counting stopped at `found` (there may be more)."""
        limit = self.value
        if found > limit:
            shown, allowed = _figure(found, self.unit), _figure(limit, self.unit)
            if shown == allowed:  # 32.0 MB over 32.0 MB: say it exactly
                shown, allowed = f"{found:,} {self.unit}", f"{limit:,} {self.unit}"
            raise error(
                f"{where}: {'at least ' if at_least else ''}{shown} {self.what}, far larger than any real model's (envforge's limit "
                f"is {allowed}): the input is corrupt or hostile.",
                (remedy + " " if remedy else "") + f"If the model really needs more, raise the limit with {self.variable}=N.",
            )


def _figure(n: int, unit: str) -> str:
    if unit == "bytes" and n >= MB:
        return f"{n / MB:.1f} MB"
    return f"{n:,} {unit}"


YAML_BYTES = Limit("ENVFORGE_MAX_YAML_BYTES", 5 * MB, "bytes", "in a YAML file (MLmodel, python_env.yaml, conda.yaml)")
CONDA_LOCK_BYTES = Limit("ENVFORGE_MAX_CONDA_LOCK_BYTES", 32 * MB, "bytes", "in a conda lock file")
TEXT_BYTES = Limit("ENVFORGE_MAX_TEXT_BYTES", 4 * MB, "bytes", "in a requirements, constraints, lock or apt-list file")
JSON_BYTES = Limit("ENVFORGE_MAX_JSON_BYTES", 50 * MB, "bytes",
                   "of JSON (an input or serving example, expectations, the runner's answer)")
LINE_CHARS = Limit("ENVFORGE_MAX_LINE_CHARS", 100_000, "characters", "in one line")
REQUIREMENT_LINES = Limit("ENVFORGE_MAX_REQUIREMENT_LINES", 10_000, "lines", "of requirements (with the files they include)")
INCLUDE_DEPTH = Limit("ENVFORGE_MAX_INCLUDE_DEPTH", 10, "levels", "of -r/-c includes")
YAML_DEPTH = Limit("ENVFORGE_MAX_YAML_DEPTH", 100, "levels", "of YAML nesting")
YAML_NODES = Limit("ENVFORGE_MAX_YAML_NODES", 200_000, "values", "of YAML (aliases expanded)")
JSON_DEPTH = Limit("ENVFORGE_MAX_JSON_DEPTH", 100, "levels", "of JSON nesting")
JSON_VALUES = Limit("ENVFORGE_MAX_JSON_VALUES", 3_000_000, "values", "of JSON (counted as commas and brackets)")
MODEL_FILES = Limit("ENVFORGE_MAX_MODEL_FILES", 100_000, "files", "in the model directory")
OUTPUT_BYTES = Limit("ENVFORGE_MAX_OUTPUT_BYTES", 2 * MB, "bytes", "of a subprocess's output kept (its head and tail)")
REGISTRY_VERSIONS = Limit("ENVFORGE_MAX_REGISTRY_VERSIONS", 5_000, "versions",
                          "in one registry selection (without --latest or --aliases)")

ALL = (YAML_BYTES, CONDA_LOCK_BYTES, TEXT_BYTES, JSON_BYTES, LINE_CHARS, REQUIREMENT_LINES, INCLUDE_DEPTH, YAML_DEPTH,
       YAML_NODES, JSON_DEPTH, JSON_VALUES, MODEL_FILES, OUTPUT_BYTES, REGISTRY_VERSIONS)

# The kinds of file read_bounded reads, and the size limit of each.
KINDS = {"yaml": YAML_BYTES, "conda-lock": CONDA_LOCK_BYTES, "text": TEXT_BYTES, "json": JSON_BYTES}
_SYNTAX = {"yaml": "YAML", "conda-lock": "YAML", "text": "text", "json": "JSON"}


def read_bounded(path: Path, kind: str, *, where: str | None = None,
                 error: type[EnvforgeError] = ModelDirError, remedy: str = "") -> str:
    """The text of `path` (UTF-8), refused before reading if it is larger than `kind`'s limit; never
    reads more than the limit (a file that grows, or a device behind a link, stays bounded)."""
    limit = KINDS[kind]
    name = where or str(path)
    try:
        size = path.stat().st_size
        limit.check(size, name, error, remedy)
        with path.open("rb") as handle:
            data = handle.read(limit.value + 1)
    except OSError as exc:
        raise error(f"Cannot read {name}: {exc.strerror or exc}.", remedy or "Check the model directory's files.") from None
    limit.check(len(data), name, error, remedy)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{name} is not valid {_SYNTAX[kind]} (not UTF-8: {exc.reason} at byte {exc.start}).",
                    remedy or "Fix or re-log the file.") from None


def check_lines(lines: list[str], where: str, error: type[EnvforgeError] = ModelDirError) -> None:
    """Refuse an over-long line (before any per-line parsing, which is then bounded by it)."""
    lengths = list(map(len, lines))
    longest = max(lengths, default=0)
    if longest > LINE_CHARS.value:
        LINE_CHARS.check(longest, f"{where}, line {lengths.index(longest) + 1}", error)


def walk_files(root: Path, where: str) -> Iterator[Path]:
    """Every file under `root` (os.walk, links not followed), refusing a tree of more than MODEL_FILES entries."""
    limit, seen = MODEL_FILES.value, 0
    for dirpath, dirnames, filenames in os.walk(root):
        seen += len(dirnames) + len(filenames)
        if seen > limit:
            MODEL_FILES.check(seen, where)
        dirnames.sort()
        for name in sorted(filenames):
            yield Path(dirpath) / name


def describe() -> list[tuple[str, int, str, str]]:
    """(variable, default, unit, what) of every limit: for the README and `--help`-style listings."""
    return [(limit.variable, limit.default, limit.unit, limit.what) for limit in ALL]
