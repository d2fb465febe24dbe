"""The commands about one model's verdict: verify, record, inspect, quickstart. Parsing and printing only."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from envforge.cli import options as opt
from envforge.cli.output import escape, report_errors
from envforge.cli.stdout_report import shown
from envforge.cli.trust_options import add_trust


def add_parsers(sub: Any) -> None:
    verify = sub.add_parser("verify", help="rebuild a model's environment and check its predictions",
                            description="Rebuild the model's environment, run its input examples inside it and compare "
                                        "the predictions with the recorded ones.")
    opt.add_uri(verify)
    opt.add_env(verify)
    opt.add_expected(verify)
    verify.add_argument("--require-expected", action="store_true",
                        help="fail (exit 1) when there are no expectations instead of reporting 'unverified'")
    verify.add_argument("--input", action="append", default=[], metavar="FILE", help="a JSON input example to run (repeatable); replaces the model's own")
    verify.add_argument("--no-synthesize", action="store_true",
                        help="without an input example or --input, run nothing instead of synthesizing an input "
                             "from the model's signature (or from what the loaded model reports)")
    opt.add_tolerances(verify)
    opt.add_reports(verify)
    opt.add_image_run(verify)
    verify.add_argument("--predict-timeout", type=float, default=900.0, metavar="SECONDS", help="limit for loading and predicting (default: 900)")
    opt.add_pass_env(verify)
    opt.add_sandbox(verify)
    add_trust(verify)  # --check, --fail-on (cli/trust_options.py)
    verify.add_argument("-q", "--quiet", action="store_true", help="print only the verdict")
    verify.add_argument("--attest", type=Path, metavar="FILE",
                        help="write an in-toto statement of the verdict: the model files' sha256, the env's exact lock, "
                             "the inputs, the tolerances (docs/attestation.md)")

    record = sub.add_parser("record", help="store the model's predictions from the current (training) environment",
                            description="Run the model in the current Python environment (in a subprocess) and store its "
                                        "predictions and a freeze of the environment next to the model.")
    opt.add_uri(record)
    opt.add_tracking(record)
    record.add_argument("--input", action="append", default=[], metavar="FILE", help="also record on this JSON input (repeatable)")
    record.add_argument("--no-synthesize", action="store_true",
                        help="without an input example or --input, fail instead of recording on a synthesized input")
    record.add_argument("--python", metavar="PATH", help="the training environment's interpreter (default: the one running envforge)")
    record.add_argument("--store-lock", "--lock", dest="lock", action="store_true",
                        help="also rebuild the environment and store its exact lock with the model; later verifies install "
                             "exactly that set (--lock: the old spelling, deprecated: verify --lock takes a FILE)")
    opt.add_resolve(record)  # given: record in the env rebuilt as of then (an "as-logged rebuild" baseline), not here
    opt.add_backend(record, "with --resolve: how to build the rebuilt environment")

    inspect = sub.add_parser("inspect", help="show what envforge reads from a model, without building anything",
                             description="Print what envforge reads from a model, without building anything: flavors, Python "
                                         "and where it came from, env files, requirements, index options, wheels, input examples, "
                                         "expectations, gaps and the environment key a build would use.")
    opt.add_uri(inspect)
    opt.add_tracking(inspect)
    opt.add_print_json(inspect)
    opt.add_backend(inspect, "the backend whose environment key to show")
    opt.add_index(inspect)
    opt.add_resolve(inspect)

    quick = sub.add_parser("quickstart", help="train, log, record and verify a tiny model in a local MLflow store",
                           description="Train a tiny scikit-learn model, log it with an input example to a local MLflow "
                                       "store (SQLite), record its predictions, and verify it with the uv backend.")
    quick.add_argument("--dir", type=Path, default=Path("envforge-quickstart"), help="where the local store lives (default: ./envforge-quickstart)")


def cmd_verify(args: argparse.Namespace, out: Any, err: Any) -> int:
    from envforge.commands.verify import verify
    from envforge.report.console import ConsoleProgress
    from envforge.reporters.catalog import subscribe
    from envforge.reporters.stream import VERIFY, Context, RunEnded, RunStarted, Verdict

    stream = subscribe(Context(VERIFY, out=out, err=err, quiet=args.quiet, json_path=args.json, junit_path=args.junit,
                               asked=[args.json, args.junit], shown=shown, options=args))
    stream.started(RunStarted(VERIFY, 1))  # the group of one: the same stream as verify-registry's
    if not args.quiet:
        err.print(f"[bold]envforge verify[/] {escape(args.uri)} [dim](backend {args.backend})[/]", highlight=False)
    result = verify(
        args.uri, progress=None if args.quiet else ConsoleProgress(err), backend=args.backend,
        tracking_uri=args.tracking_uri, expected=args.expected, require_expected=args.require_expected,
        inputs=tuple(args.input), rtol=args.rtol, atol=args.atol, refresh=args.refresh,
        predict_timeout=args.predict_timeout, lock=args.lock, stored_lock=not args.no_stored_lock,
        synthesize=not args.no_synthesize, attest=str(args.attest) if args.attest else None, fail_on=args.fail_on,
        **opt.build_keywords(args),
    )
    stream.verdict(Verdict(args.uri, result))  # the verdict first, then the files
    with report_errors():
        stream.ended(RunEnded([result]))
    return result.exit_code


def cmd_record(args: argparse.Namespace, out: Any, err: Any) -> int:
    from envforge.commands.record import record
    from envforge.modeldir.expectations import describe

    where = f"the env rebuilt as of --resolve {args.resolve}" if args.resolve else "the current environment"
    with err.status(f"recording predictions in {where}…"):
        result = record(args.uri, tracking_uri=args.tracking_uri, inputs=tuple(args.input), python=args.python, lock=args.lock,
                        synthesize=not args.no_synthesize, backend=args.backend, **opt.option_parts(args).by_reader())
    made = sorted(set(result.sources) - {"example", "file"})
    out.print(f"[bold green]recorded[/] {len(result.examples)} example(s)" + (f" (synthesized: {', '.join(made)})" if made else "")
              + f" with Python {result.python} in {escape(describe(result.baseline))} -> {escape(result.location)}", highlight=False)
    if result.lock:
        out.print(f"[bold green]locked[/] the rebuilt environment -> {escape(result.lock)}", highlight=False)
    return 0


def cmd_inspect(args: argparse.Namespace, out: Any, err: Any) -> int:
    from envforge.commands.inspect_model import inspect

    info = inspect(args.uri, tracking_uri=args.tracking_uri, backend=args.backend, index_url=args.index_url,
                   extra_index_urls=tuple(args.extra_index_url), find_links=tuple(args.find_links), resolve_as=args.resolve,
                   runtime_profile=args.runtime_profile)
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    for key, value in info.items():
        if isinstance(value, (list, tuple)):
            out.print(f"[bold]{key}:[/]" + ("" if value else " (none)"), highlight=False)
            for item in value:
                out.print(f"  - {escape(str(item))}", highlight=False)
        else:
            out.print(f"[bold]{key}:[/] {escape(str(value))}", highlight=False)
    return 0


def cmd_quickstart(args: argparse.Namespace, out: Any, err: Any) -> int:
    from envforge.cli.quickstart_progress import QuickstartProgress

    progress = QuickstartProgress(err, quiet=args.quiet)  # a line from the first second, every step timed
    with progress.step("log", "training a scikit-learn iris model, logging and registering it in a local SQLite store"):
        from envforge.commands.quickstart import log_quickstart_model

        model = log_quickstart_model(args.dir)
    out.print(f"logged [bold]{model.model_uri}[/] to {model.tracking_uri}", highlight=False)
    with progress.step("record", "recording its predictions in this environment"):
        from envforge.commands.record import record

        recorded = record(model.model_uri, tracking_uri=model.tracking_uri)
    out.print(f"recorded {len(recorded.examples)} example(s) -> {escape(recorded.location)}", highlight=False)
    parser = argparse.ArgumentParser(prog="envforge")
    add_parsers(parser.add_subparsers(dest="command"))  # verify's own defaults, as if the user had typed it
    verify_args = parser.parse_args(["verify", model.model_uri, "--tracking-uri", model.tracking_uri, "--backend", "uv"]
                                    + (["-q"] if args.quiet else []))
    code = cmd_verify(verify_args, out, err)
    progress.total()
    return code


COMMANDS = {"verify": cmd_verify, "record": cmd_record, "inspect": cmd_inspect, "quickstart": cmd_quickstart}
