"""`envforge check-attestation FILE URI`: a deploy step's check of a `verify --attest` statement. Parsing and printing only."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from envforge.cli import options as opt
from envforge.cli.output import escape


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("check-attestation", help="check that the model at URI is exactly the one an attestation says PASSED",
                       description="Exit 0 only when the statement `envforge verify --attest FILE` wrote says PASSED and the "
                                   "model at URI has exactly the attested files (sha256 of each); exit 1 naming the changed "
                                   "files otherwise; exit 2 for a file that is not such a statement.")
    p.add_argument("statement", type=Path, metavar="FILE", help="the statement written by `envforge verify --attest FILE`")
    opt.add_uri(p)
    opt.add_tracking(p)
    p.add_argument("--json", type=Path, metavar="FILE", help="write the outcome as JSON")


def cmd_check_attestation(args: argparse.Namespace, out: Any, err: Any) -> int:
    from envforge.attestation.checking import check_attestation

    checked = check_attestation(args.statement, args.uri, tracking_uri=args.tracking_uri)
    if args.json:
        args.json.write_text(json.dumps(checked.to_dict(), indent=1) + "\n")
    word = "[bold green]OK[/]" if checked.ok else "[bold red]NOT OK[/]"
    out.print(f"{word} {escape(checked.uri)}: {escape(checked.reason)}", highlight=False)
    for change in checked.changes:
        out.print(f"  {escape(change.describe())}", highlight=False)
    return checked.exit_code


COMMANDS = {"check-attestation": cmd_check_attestation}
