"""CLI for `envforge bisect`: argument parsing and printing only; the search is envforge.bisect.
Registered by envforge.cli (add_parsers, COMMANDS)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def add_parsers(sub: Any) -> None:
    from envforge.cli import URI_HELP, resolve_value
    from envforge.cli_debug import env_options
    from envforge.compare import DEFAULT_ATOL, DEFAULT_RTOL

    p = sub.add_parser("bisect", help="find the release that broke a model between the day it was logged and today",
                       description="Rebuild the model as of two moments (default: when it was logged, and today) and run the "
                                   "same inputs in both. If they behave differently, bisect over dates to the first day the "
                                   "outcome changes, then name the one package whose upgrade alone causes it.")
    p.add_argument("uri", help=URI_HELP)
    p.add_argument("--from", dest="start", type=lambda v: "lock" if v.strip() == "lock" else resolve_value(v), default="logged",
                   metavar="logged|latest|DATE|lock", help="the moment it worked (default: logged, the MLmodel's utc_time_created), "
                                                           "or `lock`: the lock stored with the model by `record --lock`")
    p.add_argument("--to", dest="end", type=resolve_value, default="latest", metavar="logged|latest|DATE",
                   help="the moment it breaks (default: latest, today's index)")
    p.add_argument("--input", action="append", default=[], metavar="FILE", help="a JSON input to run (repeatable); default: the model's example")
    p.add_argument("--rtol", type=float, default=DEFAULT_RTOL, help=f"relative tolerance for floats (default: {DEFAULT_RTOL:g})")
    p.add_argument("--atol", type=float, default=DEFAULT_ATOL, help=f"absolute tolerance for floats (default: {DEFAULT_ATOL:g})")
    p.add_argument("--max-steps", type=int, default=30, metavar="N", help="build at most N environments besides the two ends (default: 30)")
    p.add_argument("--predict-timeout", type=float, default=900.0, metavar="SECONDS", help="limit for loading and predicting (default: 900)")
    p.add_argument("--json", type=Path, metavar="FILE", help="write the result and the per-step log as JSON")
    env_options(p)


def cmd_bisect(args: argparse.Namespace, out: Any, err: Any) -> int:
    from envforge.bisect import BisectOptions, bisect
    from envforge.cli import _escape
    from envforge.cli_debug import build_options
    from envforge.errors import UsageError

    if args.lock:
        raise UsageError("bisect builds from the model's own requirements at each date; --lock pins every package, so "
                         "there would be nothing to bisect.", "Drop --lock (bisect also ignores a lock stored with the model).")
    if args.resolve:
        raise UsageError("bisect takes --from and --to, not --resolve.", "Pass e.g. `--from logged --to latest`.")
    err.print(f"[bold]envforge bisect[/] {_escape(args.uri)} [dim](backend {args.backend}, {args.start} → {args.end})[/]",
              highlight=False)
    opts = BisectOptions(start=args.start, end=args.end, backend=args.backend, tracking_uri=args.tracking_uri,
                         inputs=tuple(args.input), rtol=args.rtol, atol=args.atol, max_steps=args.max_steps,
                         predict_timeout=args.predict_timeout, build=build_options(args))
    result = bisect(args.uri, opts, say=lambda text: err.print(f"  [dim]{_escape(text)}[/]", highlight=False))
    if args.json:
        args.json.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    style = {"agree": "bold green", "culprit": "bold red"}.get(result.verdict, "bold yellow")
    out.print(f"[{style}]{result.verdict.upper()}[/] {_escape(result.message)}", highlight=False)
    builds = sum(1 for s in result.steps if s.get("built"))
    out.print(f"  {len(result.steps)} step(s), {builds} build(s), {result.seconds:.0f} s", highlight=False)
    return result.exit_code


COMMANDS = {"bisect": cmd_bisect}
