"""`envforge verify-registry` and `envforge status`: parsing and printing only; the work is in envforge.registry."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from envforge.cli import options as opt
from envforge.cli.output import report_errors
from envforge.cli.registry_refused import reported_if_refused
from envforge.cli.stdout_report import shown
from envforge.cli.trust_options import add_trust
from envforge.errors import UsageError


def add_parsers(sub: Any) -> None:
    from envforge.processes.cores import usable_cores  # registry.group_runners.default_workers, without importing the run

    p = sub.add_parser("verify-registry", help="verify many registered model versions, each environment built once",
                       description="Select model versions from a registry (or a file of URIs), group them by environment, "
                                   "build each environment once and run all its models in one process; report all.")
    opt.add_tracking(p)
    p.add_argument("--models", metavar="GLOB", help="registered model names to include, e.g. 'fraud-*' (default: all)")
    p.add_argument("--aliases", metavar="A,B", help="only the versions with one of these aliases, e.g. champion,candidate")
    p.add_argument("--latest", type=int, metavar="N", help="the N highest versions of each model (with --aliases: both)")
    p.add_argument("--uris-file", metavar="FILE", help="verify the model URIs listed in FILE (one a line)")
    p.add_argument("--dry-run", action="store_true", help="print the plan (environments and their models) and stop")
    opt.add_backend(p, "how to build environments")
    p.add_argument("--executor", default="local", choices=["local", "dask"], help="local (default) or a Dask distributed cluster")
    p.add_argument("--scheduler", metavar="ADDRESS", help="the Dask scheduler, e.g. tcp://scheduler:8786")
    p.add_argument("--workers", type=int, default=usable_cores(),
                   help=f"environment groups run at once by the local executor (default: this machine's cores, {usable_cores()})")
    p.add_argument("--model-timeout", type=float, default=600.0, metavar="SECONDS", help="limit per model for load + predict (default: 600)")
    opt.add_build_timeout(p)
    opt.add_tolerances(p)
    p.add_argument("--require-expected", action="store_true", help="a model without expectations fails instead of 'unverified'")
    opt.add_refresh(p)
    opt.add_offline(p)
    opt.add_resolutions(p)
    p.add_argument("--record-missing", action="store_true",
                   help="a version without expectations gets a baseline: its predictions in the rebuilt env (as logged, "
                        "by default), stored with the model as `envforge record --resolve logged` stores them")
    opt.add_image_build(p)
    opt.add_sandbox(p)
    add_trust(p)  # --check, --fail-on (cli/trust_options.py)
    opt.add_reports(p, "all results (one test case per model version)")
    p.add_argument("--html", type=Path, metavar="FILE", help="write a self-contained HTML report")
    p.add_argument("--previous", type=Path, metavar="OLD.json", help="list what changed status since this earlier --json report")
    p.add_argument("--tag-results", action="store_true", help="write envforge.status/verified_at/env_key/version tags on each version")
    p.add_argument("--log-to", metavar="EXPERIMENT", help="log this run as an MLflow run of EXPERIMENT (created if missing): per version "
                                                          "its status, env key and seconds; the JSON, JUnit and HTML reports as artifacts")

    s = sub.add_parser("status", help="read the envforge tags of a model version (exit 0 only if it passed)",
                       description="Print the envforge.* tags `verify-registry --tag-results` wrote on a model version; "
                                   "exit 0 if its status is passed, 1 otherwise.")
    s.add_argument("uri", help="models:/<name>/<version> or models:/<name>@<alias>")
    opt.add_tracking(s)


def _tracking(args: argparse.Namespace, what: str = "the registry") -> str:
    """The tracking server, checked before MLflow is asked (modeldir/tracking.py): none set and no default
    store is an error (MLflow would create ./mlflow.db), a server that refuses connections fails in seconds."""
    from envforge.modeldir.tracking import check_reachable, tracking_for

    if getattr(args, "uris_file", None) and not getattr(args, "models", None) and not (args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")):
        return ""  # only the file's URIs: each is checked as it is resolved (a local directory needs no server)
    tracking = tracking_for(what, args.tracking_uri)
    check_reachable(tracking)
    return tracking


def cmd_verify_registry(args: argparse.Namespace, out: Any, err: Any) -> int:
    from rich.markup import escape

    from envforge.registry import drift
    from envforge.registry import run_reports as report
    from envforge.registry.plan import RegistryOptions, describe
    from envforge.registry.select import Selection, select
    from envforge.reporters.catalog import report_paths
    from envforge.reporters.stream import VERIFY_REGISTRY, Context

    if args.workers < 1 or (args.latest is not None and args.latest < 1):
        raise UsageError("--workers and --latest take a number >= 1.", "")
    previous = report.load_previous(args.previous) if args.previous else None
    with reported_if_refused(args):  # a refused listing still writes --json/--junit (cli/registry_refused.py)
        tracking = _tracking(args)
        targets = select(Selection(models=args.models, aliases=tuple(a.strip() for a in (args.aliases or "").split(",") if a.strip()),
                                   latest=args.latest, uris_file=args.uris_file), tracking)
    options = RegistryOptions(tracking_uri=tracking, backend=args.backend, model_timeout=args.model_timeout, rtol=args.rtol,
                              atol=args.atol, require_expected=args.require_expected, refresh=args.refresh,
                              record_missing=args.record_missing, fail_on=args.fail_on, **opt.option_parts(args).by_reader())
    started_ms = int(time.time() * 1000)
    if not targets:
        raise UsageError("No model version matched the selection.", "Check --models, --aliases and --latest (or --uris-file).")
    steps = drift.passes(options, drift.parse_resolutions(args.resolutions))
    from envforge.report.console import spinner

    with spinner(err, f"resolving {len(targets)} model version(s)…"):
        drift.plan_all(targets, steps)
    for step in steps:
        if len(steps) > 1:
            (out if args.dry_run else err).print(f"as of {escape(step.label)}:", highlight=False)
        for line in describe(step.plan) if args.dry_run or not args.quiet else []:
            (out if args.dry_run else err).print(escape(line), highlight=False)
    if args.dry_run:
        return 0

    with report_paths(args) as (json_path, junit_path, html_path):  # --log-to wants all three: a temporary dir if not asked
        return _run(args, out, err, steps, Context(
            VERIFY_REGISTRY, out=out, err=err, quiet=args.quiet, json_path=json_path, junit_path=junit_path,
            html_path=html_path, asked=[args.json, args.junit, args.html], shown=shown, tracking_uri=tracking,
            log_to=args.log_to, tag_results=args.tag_results, started_ms=started_ms, options=args), previous)


def _run(args: argparse.Namespace, out: Any, err: Any, steps: list[Any], context: Any, previous: dict[str, str] | None) -> int:
    """Every pass's verdicts to the reporters as they are judged, then the run's end (reporters/stream.py)."""
    from envforge.registry import drift
    from envforge.registry import run_reports as report
    from envforge.registry.run import execute
    from envforge.reporters.catalog import subscribe
    from envforge.reporters.stream import VERIFY_REGISTRY, RunEnded, RunStarted, Verdict

    stream = subscribe(context)
    stream.started(RunStarted(VERIFY_REGISTRY, sum(len(s.plan.targets) for s in steps)))
    for step in steps:
        resolve = step.label if len(steps) > 1 else None

        def tell(target: Any, result: Any, resolve: str | None = resolve) -> None:
            stream.verdict(Verdict(target.label, result, target, resolve))

        step.run = execute(step.plan, step.options, executor=args.executor, workers=args.workers, scheduler=args.scheduler,
                           on_result=tell)
        if step.run.interrupted:
            break
    run = drift.merged(steps)
    with report_errors():  # the verdicts first, then the files (their paths were checked before the run)
        stream.ended(RunEnded([r for _, r in run.results], run, steps, report.changes(previous, run) if previous is not None
                              else None, drift.verdicts(steps)))
    for failure in stream.failures():  # after the verdicts: the run happened, only its record (in MLflow) is missing
        from envforge.report.console import print_error

        print_error(err, failure.message, failure.remedy)
        return run.exit_code or failure.exit_code
    return run.exit_code


def cmd_status(args: argparse.Namespace, out: Any, err: Any) -> int:
    from rich.markup import escape

    from envforge.registry.tags import STATUS, read_status

    status = read_status(args.uri, _tracking(args, args.uri))
    if STATUS not in status.tags:
        out.print(f"{escape(status.name)}/{status.version}: not verified (no {STATUS} tag)", highlight=False)
        return 1
    out.print(f"{escape(status.name)}/{status.version}: {escape(status.tags[STATUS])}", highlight=False)
    for key, value in sorted(status.tags.items()):
        out.print(f"  {escape(key)} = {escape(value)}", highlight=False)
    return 0 if status.passed else 1


COMMANDS = {"verify-registry": cmd_verify_registry, "status": cmd_status}

