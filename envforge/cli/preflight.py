"""Every output option checked for writability before any work, and the one way report files are named once written.

A `--json` path that is a directory, lies under a file or on a read-only filesystem used to fail only
after the whole build and predict, as an internal error, with the verdict never printed. Now each
output path is tried (a probe file created and removed in the nearest existing directory) right after
parsing: exit 2 with the path and the reason, before anything is downloaded or built.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from envforge.errors import UsageError

# argparse dest -> the option's spelling, for every option that names a file envforge writes.
FILE_OPTIONS = {"json": "--json", "junit": "--junit", "html": "--html", "output": "--output"}
# Commands whose --output is a directory to create (the others write one file).
DIRECTORY_OUTPUT = {"dockerfile"}


def check_outputs(args: argparse.Namespace) -> None:
    """Raise UsageError (exit 2) for the first output option of `args` that cannot be written."""
    seen: dict[Path, str] = {}
    for dest, option in FILE_OPTIONS.items():
        value = getattr(args, dest, None)
        if not isinstance(value, (str, Path)) or isinstance(value, bool) or not str(value):
            continue  # not given, or a flag (`inspect --json` prints JSON)
        path = Path(value)
        directory = dest == "output" and getattr(args, "command", None) in DIRECTORY_OUTPUT
        why = problem(path, directory=directory)
        if why:
            raise UsageError(f"{option} {value}: cannot be written: {why}.",
                             "Pass a path in a directory you can write to (checked before anything is downloaded or built).")
        key = path.resolve()
        if key in seen:
            raise UsageError(f"{seen[key]} and {option} both name {value}.", "Give each report its own file.")
        seen[key] = option


def problem(path: Path, *, directory: bool = False) -> str | None:
    """Why `path` cannot be written (as a file, or as a directory to create), or None."""
    if path.exists():
        if not directory and path.is_dir():
            return "it is a directory"
        if directory and not path.is_dir():
            return "it is a file, not a directory"
        if not directory and not os.access(path, os.W_OK):
            return "the file is not writable"
    ancestor = path if directory and path.is_dir() else path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"{ancestor} is a file, so nothing can be created under it"
    try:
        handle, probe = tempfile.mkstemp(prefix=".envforge-probe-", dir=ancestor)
    except OSError as exc:
        return f"cannot create files in {ancestor} ({exc.strerror or exc})"
    os.close(handle)
    os.unlink(probe)
    return None


def wrote(paths: list[Path | None]) -> str:
    """"wrote report.json, report.xml" for the files a command has just written."""
    from envforge.cli.stdout_report import shown

    return "wrote " + ", ".join(shown(p) for p in paths if p)
