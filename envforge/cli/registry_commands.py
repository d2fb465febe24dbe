"""`envforge verify-registry` and `envforge status`: parsing and printing only; the work is in envforge.registry."""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from envforge.cli import options as opt
from envforge.cli.output import report_errors
from envforge.cli.preflight import wrote
from envforge.cli.registry_refused import reported_if_refused
from envforge.cli.trust_options import add_trust
from envforge.errors import EnvforgeError, UsageError


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

    from envforge.registry import drift, html, tags
    from envforge.registry import run_reports as report
    from envforge.registry.plan import RegistryOptions, describe
    from envforge.registry.run import execute
    from envforge.registry.select import Selection, select

    if args.workers < 1 or (args.latest is not None and args.latest < 1):
        raise UsageError("--workers and --latest take a number >= 1.", "")
    previous = report.load_previous(args.previous) if args.previous else None
    with reported_if_refused(args):  # a refused listing still writes --json/--junit (cli/registry_refused.py)
        tracking = _tracking(args)
        targets = select(Selection(models=args.models, aliases=tuple(a.strip() for a in (args.aliases or "").split(",") if a.strip()),
                                   latest=args.latest, uris_file=args.uris_file), tracking)
    options = RegistryOptions(tracking_uri=tracking, backend=args.backend, model_timeout=args.model_timeout, rtol=args.rtol,
                              atol=args.atol, require_expected=args.require_expected, refresh=args.refresh,
                              record_missing=args.record_missing, fail_on=args.fail_on, build=opt.build_options(args))
    started_ms = int(time.time() * 1000)
    if not targets:
        raise UsageError("No model version matched the selection.", "Check --models, --aliases and --latest (or --uris-file).")
    steps = drift.passes(options, drift.parse_resolutions(args.resolutions))
    with err.status(f"resolving {len(targets)} model version(s)…"):
        drift.plan_all(targets, steps)
    for step in steps:
        if len(steps) > 1:
            (out if args.dry_run else err).print(f"as of {escape(step.label)}:", highlight=False)
        for line in describe(step.plan) if args.dry_run or not args.quiet else []:
            (out if args.dry_run else err).print(escape(line), highlight=False)
    if args.dry_run:
        return 0

    for step in steps:
        prefix = f"[{step.label}] " if len(steps) > 1 else ""

        def show(target: Any, result: Any, prefix: str = prefix) -> None:
            if not args.quiet:
                show_result(err, prefix + target.label, result)

        step.run = execute(step.plan, step.options, executor=args.executor, workers=args.workers, scheduler=args.scheduler,
                           on_result=show)
        if step.run.interrupted:
            break
    run = drift.merged(steps)
    found = drift.verdicts(steps)
    diff = report.changes(previous, run) if previous is not None else None
    if args.tag_results and not run.interrupted:
        for warning in tags.write_tags(run, tracking):
            err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    for change in diff or []:
        out.print(f"changed: {escape(change['label'])}: {change['before']} -> {change['after']}", highlight=False)
    for label in drift.recorded(run):
        out.print(f"baseline recorded: {escape(label)}", highlight=False)
    for v in found:
        style = "red" if v["verdict"] in drift.BAD else "green" if v["verdict"] != drift.NO_BASELINE else "yellow"
        out.print(f"[{style}]{escape(v['text'])}[/]: {escape(v['label'])}", highlight=False)
    for line in (drift.summary(steps, found) if len(steps) > 1 else [run.summary()]):
        out.print(escape(line), highlight=False)
    log_error = None
    with report_errors(), _report_paths(args) as (json_path, junit_path, html_path):
        # The verdicts first, then the files (their paths were checked before the run); --log-to wants all three, in a
        # temporary directory where not asked for.
        report.write_reports(run, json_path=json_path, junit_path=junit_path, changes=diff)
        drift.add_to_reports(steps, found, json_path, junit_path)
        if html_path:
            from envforge.registry import html_drift

            extra = html_drift.section(found) + (_trend(run, tracking, args.log_to, started_ms) if args.log_to else "")
            table = html_drift.rows(steps) if len(steps) > 1 else report.rows(run)  # each row names its resolution
            html.write_html(html_path, table, run.summary(), diff or [], extra=extra, tracking_uri=tracking or None)
        if args.log_to:
            from envforge.registry import mlflow_log

            try:
                run_id = mlflow_log.log_run(run, tracking, args.log_to, [p for p in (json_path, junit_path, html_path) if p],
                                            started_ms=started_ms, passes=[(s.label, s.run) for s in steps], verdicts=found)
                out.print(f"logged to MLflow: experiment {escape(args.log_to)}, run {run_id}", highlight=False)
            except EnvforgeError as exc:
                log_error = exc
    if args.json or args.junit or args.html:
        out.print(escape(wrote([args.json, args.junit, args.html])), highlight=False)
    if log_error is not None:  # after the verdicts: the run happened, only its record in MLflow is missing
        from envforge.report.console import print_error

        print_error(err, log_error.message, log_error.remedy)
        return run.exit_code or log_error.exit_code
    return run.exit_code


def _trend(run: Any, tracking: str, experiment: str, started_ms: int) -> str:
    """The HTML's last-nights section, from the runs --log-to logged before this one."""
    import datetime

    from envforge.registry import trend

    tonight = datetime.datetime.fromtimestamp(started_ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    return trend.section(run, trend.try_history(tracking, experiment), tonight, experiment)


@contextmanager
def _report_paths(args: argparse.Namespace) -> Iterator[tuple[Path | None, Path | None, Path | None]]:
    """--json, --junit and --html as given; with --log-to, the ones not given in a temporary directory."""
    if not args.log_to:
        yield args.json, args.junit, args.html
        return
    with tempfile.TemporaryDirectory(prefix="envforge-log-") as tmp:
        yield (args.json or Path(tmp, "envforge-report.json"), args.junit or Path(tmp, "envforge-report.xml"),
               args.html or Path(tmp, "envforge-report.html"))


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


def show_result(err: Any, label: str, result: Any) -> None:
    """One version's verdict as it is judged, then what every report carries besides it (a rebuilt env's reason,
    the drift, the model's warnings: report/verdict_lines.py), indented under it."""
    from rich.markup import escape

    from envforge.report.verdict_lines import extra_lines

    style = {"passed": "green", "failed": "red", "error": "red"}.get(result.status, "yellow")
    err.print(f"[bold {style}]{result.status.upper():<10}[/] {escape(label)}: {escape(result.reason)}", highlight=False)
    for line in extra_lines(result):
        err.print(f"{'':<11}{escape(line)}", highlight=False)
