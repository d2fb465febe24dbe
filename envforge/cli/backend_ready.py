"""Right after parsing, for a command that builds: the backend can run here (its packages, its engine), or exit 3
with the fix, before the model is downloaded (backends/ready.py)."""

from __future__ import annotations

import argparse

# verify and verify-registry are not here: they write a report (--json, --junit) that a CD step reads, so their
# backend check runs inside the verification (commands/verify.py) and becomes an error result in that report.
BUILDS = {"shell", "run", "diff", "serve-check", "lock", "bisect"}


def check(args: argparse.Namespace) -> None:
    backend = getattr(args, "backend", None)
    if args.command not in BUILDS or not isinstance(backend, str) or getattr(args, "dry_run", False):
        return
    from envforge.backends.ready import check_before_work

    check_before_work(backend)
