"""`envforge bisect`: argument parsing and printing only; the search is envforge.commands.bisect."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from envforge.cli import options as opt
from envforge.cli.output import escape, report_errors, write_atomically
from envforge.cli.preflight import wrote


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("bisect", help="find the release that broke a model between the day it was logged and today",
                       description="Rebuild the model as of two moments (default: when it was logged, and today) and run the "
                                   "same inputs in both. If they behave differently, bisect over dates to the first day the "
                                   "outcome changes, then name the one package whose upgrade alone causes it.")
    opt.add_uri(p)
    p.add_argument("--from", dest="start", type=lambda v: "lock" if v.strip() == "lock" else opt.resolve_value(v), default="logged",
                   metavar="logged|latest|DATE|lock", help="the moment it worked (default: logged, the MLmodel's utc_time_created), "
                                                           "or `lock`: the lock stored with the model by `record --store-lock`")
    p.add_argument("--to", dest="end", type=opt.resolve_value, default="latest", metavar="logged|latest|DATE",
                   help="the moment it breaks (default: latest, today's index)")
    p.add_argument("--input", action="append", default=[], metavar="FILE", help="a JSON input to run (repeatable); default: the model's example")
    opt.add_tolerances(p)
    p.add_argument("--max-steps", type=int, default=30, metavar="N", help="build at most N environments besides the two ends (default: 30)")
    p.add_argument("--predict-timeout", type=float, default=900.0, metavar="SECONDS", help="limit for loading and predicting (default: 900)")
    p.add_argument("--json", type=Path, metavar="FILE", help="write the result and the per-step log as JSON")
    opt.add_env(p)


def cmd_bisect(args: argparse.Namespace, out: Any, err: Any) -> int:
    from envforge.commands.bisect import BisectOptions, bisect
    from envforge.errors import UsageError

    if args.lock:
        raise UsageError("bisect builds from the model's own requirements at each date; --lock pins every package, so "
                         "there would be nothing to bisect.", "Drop --lock (bisect also ignores a lock stored with the model).")
    if args.resolve:
        raise UsageError("bisect takes --from and --to, not --resolve.", "Pass e.g. `--from logged --to latest`.")
    if not args.quiet:
        err.print(f"[bold]envforge bisect[/] {escape(args.uri)} [dim](backend {args.backend}, {args.start} → {args.end})[/]",
                  highlight=False)
    opts = BisectOptions(start=args.start, end=args.end, backend=args.backend, tracking_uri=args.tracking_uri,
                         inputs=tuple(args.input), rtol=args.rtol, atol=args.atol, max_steps=args.max_steps,
                         predict_timeout=args.predict_timeout, **opt.option_parts(args).by_reader())
    from envforge.result import now_iso

    started = now_iso()
    result = bisect(args.uri, opts, say=lambda text: None if args.quiet else err.print(f"  [dim]{escape(text)}[/]", highlight=False))
    style = {"agree": "bold green", "culprit": "bold red"}.get(result.verdict, "bold yellow")
    out.print(f"[{style}]{result.verdict.upper()}[/] {escape(result.message)}", highlight=False)
    builds = sum(1 for s in result.steps if s.get("built"))
    out.print(f"  {len(result.steps)} step(s), {builds} build(s), {result.seconds:.0f} s", highlight=False)
    if builds and not args.quiet:  # each build is a full env (hundreds of MB): say where they stay
        err.print(f"[dim]envforge: bisect's {builds} environment(s) stay in the cache (`envforge cache list`); "
                  "`envforge cache prune --older-than 1d` removes them once unused for a day[/]", highlight=False)
    if args.json:  # after the verdict; the path was checked before the first build
        with report_errors():
            write_atomically(args.json, json.dumps(bisect_document(result, started), indent=2) + "\n")
        out.print(escape(wrote([args.json])), highlight=False)
    return result.exit_code


def bisect_document(result: Any, started: str) -> dict[str, Any]:
    """bisect --json: its result with the header every envforge JSON report has."""
    from envforge.report.json_report import SCHEMA_VERSION
    from envforge.result import now_iso
    from envforge.version import __version__

    return {"schema_version": SCHEMA_VERSION, "envforge_version": __version__, "kind": "bisect", "started_at": started,
            "finished_at": now_iso(), **result.to_dict()}


COMMANDS = {"bisect": cmd_bisect}
