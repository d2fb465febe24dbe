"""verify's and verify-registry's options about what a verdict may rest on: `--check` (hash every file of the
cached download and the cached env instead of trusting sizes: store/env_check.py) and `--fail-on` (a passing
verdict fails on drift or the model's warnings: report/gate.py)."""

from __future__ import annotations

import argparse


def fail_on_value(text: str) -> tuple[str, ...]:
    from envforge.errors import UsageError
    from envforge.report.gate import parse_fail_on

    try:
        return parse_fail_on(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(exc.paragraph()) from None


def add_trust(p: argparse.ArgumentParser) -> None:
    if "--check" not in p._option_string_actions:  # another group may define it (the download cache's)
        p.add_argument("--check", action="store_true", default=None,
                       help="check the cached download and the cached environment fully (hash every file) instead of by size and mtime")
    p.add_argument("--fail-on", type=fail_on_value, default=(), metavar="drift,warnings",
                   help="fail a passing verdict when packages differ from the training environment (drift: exit 4) "
                        "or the model's process warned while loading or predicting (warnings: exit 5)")
