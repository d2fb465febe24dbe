"""The `verify-registry` and `status` subcommands (wired into envforge.cli)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from envforge.errors import UsageError


def add_parsers(sub: Any) -> None:
    from envforge.cli import add_resolve_option
    from envforge.compare import DEFAULT_ATOL, DEFAULT_RTOL

    p = sub.add_parser("verify-registry", help="verify many registered model versions, each environment built once",
                       description="Select model versions from a registry (or a file of URIs), group them by environment, "
                                   "build each environment once and run all its models in one process; report all.")
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else MLflow's default)")
    p.add_argument("--models", metavar="GLOB", help="registered model names to include, e.g. 'fraud-*' (default: all)")
    p.add_argument("--aliases", metavar="A,B", help="only the versions with one of these aliases, e.g. champion,candidate")
    p.add_argument("--latest", type=int, metavar="N", help="the N highest versions of each model (with --aliases: both)")
    p.add_argument("--uris-file", metavar="FILE", help="verify the model URIs listed in FILE (one a line)")
    p.add_argument("--dry-run", action="store_true", help="print the plan (environments and their models) and stop")
    p.add_argument("--backend", default="uv", choices=["uv", "virtualenv"], help="how to build environments (default: uv)")
    p.add_argument("--executor", default="local", choices=["local", "dask"], help="local (default) or a Dask distributed cluster")
    p.add_argument("--scheduler", metavar="ADDRESS", help="the Dask scheduler, e.g. tcp://scheduler:8786")
    p.add_argument("--workers", type=int, default=2, help="environment groups run at once by the local executor (default: 2)")
    p.add_argument("--model-timeout", type=float, default=600.0, metavar="SECONDS", help="limit per model for load + predict (default: 600)")
    p.add_argument("--build-timeout", type=float, default=1800.0, metavar="SECONDS", help="limit per environment build (default: 1800)")
    p.add_argument("--rtol", type=float, default=DEFAULT_RTOL, help=f"relative tolerance for floats (default: {DEFAULT_RTOL:g})")
    p.add_argument("--atol", type=float, default=DEFAULT_ATOL, help=f"absolute tolerance for floats (default: {DEFAULT_ATOL:g})")
    p.add_argument("--require-expected", action="store_true", help="a model without expectations fails instead of 'unverified'")
    p.add_argument("--refresh", action="store_true", help="download the models again even when they are cached")
    p.add_argument("--offline", action="store_true", help="never access a package index")
    add_resolve_option(p)
    p.add_argument("--json", type=Path, metavar="FILE", help="write all results as JSON")
    p.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML, one test case per model version")
    p.add_argument("--html", type=Path, metavar="FILE", help="write a self-contained HTML report")
    p.add_argument("--previous", type=Path, metavar="OLD.json", help="list what changed status since this earlier --json report")
    p.add_argument("--tag-results", action="store_true", help="write envforge.status/verified_at/env_key/version tags on each version")

    s = sub.add_parser("status", help="read the envforge tags of a model version (exit 0 only if it passed)",
                       description="Print the envforge.* tags `verify-registry --tag-results` wrote on a model version; "
                                   "exit 0 if its status is passed, 1 otherwise.")
    s.add_argument("uri", help="models:/<name>/<version> or models:/<name>@<alias>")
    s.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else MLflow's default)")


def _tracking(args: argparse.Namespace) -> str:
    if args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI"):
        return str(args.tracking_uri or os.environ["MLFLOW_TRACKING_URI"])
    import mlflow

    return str(mlflow.get_tracking_uri())


def cmd_verify_registry(args: argparse.Namespace, out: Any, err: Any) -> int:
    from rich.markup import escape

    from envforge.backends.base import BuildOptions
    from envforge.registry import html, report, tags
    from envforge.registry.plan import RegistryOptions, describe, make_plan
    from envforge.registry.run import execute
    from envforge.registry.select import Selection, select

    if args.workers < 1 or (args.latest is not None and args.latest < 1):
        raise UsageError("--workers and --latest take a number >= 1.", "")
    previous = report.load_previous(args.previous) if args.previous else None
    tracking = _tracking(args)
    selection = Selection(models=args.models, aliases=tuple(a.strip() for a in (args.aliases or "").split(",") if a.strip()),
                          latest=args.latest, uris_file=args.uris_file)
    options = RegistryOptions(tracking_uri=tracking, backend=args.backend, model_timeout=args.model_timeout, rtol=args.rtol,
                              atol=args.atol, require_expected=args.require_expected, refresh=args.refresh,
                              build=BuildOptions(timeout=args.build_timeout, offline=args.offline, resolve=args.resolve))
    targets = select(selection, tracking)
    if not targets:
        raise UsageError("No model version matched the selection.", "Check --models, --aliases and --latest (or --uris-file).")
    with err.status(f"resolving {len(targets)} model version(s)…"):
        plan = make_plan(targets, options)
    for line in describe(plan):
        (out if args.dry_run else err).print(escape(line), highlight=False)
    if args.dry_run:
        return 0

    def show(target: Any, result: Any) -> None:
        style = {"passed": "green", "failed": "red", "error": "red"}.get(result.status, "yellow")
        err.print(f"[bold {style}]{result.status.upper():<10}[/] {escape(target.label)}: {escape(result.reason)}", highlight=False)

    run = execute(plan, options, executor=args.executor, workers=args.workers, scheduler=args.scheduler, on_result=show)
    diff = report.changes(previous, run) if previous is not None else None
    report.write_reports(run, json_path=args.json, junit_path=args.junit, changes=diff)
    if args.html:
        html.write_html(args.html, report.rows(run), run.summary(), diff or [])
    if args.tag_results and not run.interrupted:
        for warning in tags.write_tags(run, tracking):
            err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    for change in diff or []:
        out.print(f"changed: {escape(change['label'])}: {change['before']} -> {change['after']}", highlight=False)
    out.print(run.summary(), highlight=False)
    return run.exit_code


def cmd_status(args: argparse.Namespace, out: Any, err: Any) -> int:
    from rich.markup import escape

    from envforge.registry.tags import STATUS, read_status

    status = read_status(args.uri, _tracking(args))
    if STATUS not in status.tags:
        out.print(f"{escape(status.name)}/{status.version}: not verified (no {STATUS} tag)", highlight=False)
        return 1
    out.print(f"{escape(status.name)}/{status.version}: {escape(status.tags[STATUS])}", highlight=False)
    for key, value in sorted(status.tags.items()):
        out.print(f"  {escape(key)} = {escape(value)}", highlight=False)
    return 0 if status.passed else 1


COMMANDS = {"verify-registry": cmd_verify_registry, "status": cmd_status}
