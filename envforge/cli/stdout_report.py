"""`--json -`: the JSON report on stdout, as `-` means for most tools, instead of a file named `-`.

The command's JSON reporter (reporters/json_file.py) writes to a stand-in file, as for any path (and --log-to
uploads that file); everything the command would print on stdout goes to stderr
instead, and the document is copied to stdout when the command ends. stdout then holds only the JSON."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

_STANDINS: set[str] = set()


def settle(args: argparse.Namespace, out: Any, err: Any) -> tuple[Any, Path | None]:
    """(the console the command prints its stdout lines to, the stand-in path to copy to stdout at the end)."""
    value = getattr(args, "json", None)
    if isinstance(value, bool) or value is None or str(value) != "-":
        return out, None
    standin = Path(tempfile.mkdtemp(prefix="envforge-json-")) / "report.json"
    _STANDINS.add(str(standin))
    args.json = standin
    return err, standin


def finish(standin: Path | None) -> None:
    """Copy the document to stdout (if the command wrote one) and remove the stand-in."""
    if standin is None:
        return
    try:
        if standin.exists():
            sys.stdout.write(standin.read_text())
            sys.stdout.write("\n")
            sys.stdout.flush()
    finally:
        shutil.rmtree(standin.parent, ignore_errors=True)


def shown(path: Path | str) -> str:
    """How a report path is named in `wrote ...`: `-` (stdout) for the stand-in."""
    return "- (stdout)" if str(path) in _STANDINS else str(path)
