"""The commands for debugging a model's rebuilt env: shell, run, diff, serve-check, lock.

Argument parsing and printing only; the work is in envforge.commands (enter, diff, serve_check) and
envforge.pipeline (load_model, open_env, write_lock).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from envforge.cli import options as opt
from envforge.cli.output import escape, report_errors, say, write_atomically

_RUN_USAGE = "envforge run [OPTIONS] URI -- COMMAND [ARG ...]"


def add_parsers(sub: Any) -> None:
    shell = sub.add_parser("shell", help="a shell (or --repl: a Python REPL) inside the model's rebuilt environment",
                           description="Build (or reuse) the model's environment and start a shell in it, with the env "
                                       "activated and the model directory in $MODEL_DIR. Exits with the shell's exit code.")
    opt.add_uri(shell)
    shell.add_argument("--repl", "--python", dest="repl", action="store_true",
                       help="start the env's Python REPL instead of a shell (--python: the old spelling, deprecated)")
    opt.add_env(shell, interpreter_flag="--interpreter")
    _add_entry_sandbox(shell)

    run = sub.add_parser("run", help="run a command inside the model's rebuilt environment (exit code passed through)",
                         usage=_RUN_USAGE,
                         description="Build (or reuse) the model's environment and run COMMAND in it ($MODEL_DIR is the "
                                     "model directory; `python` is the env's). envforge's options go before `--`.")
    opt.add_uri(run, alias=False)  # -m cannot precede a command that takes everything after the URI
    opt.add_env(run)
    _add_entry_sandbox(run)
    run.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- COMMAND [ARG ...]", help="the command to run in the env")

    diff = sub.add_parser("diff", help="training env vs the model's requirements vs the rebuilt env, per package",
                          description="Per package: the version recorded in the training environment (by `envforge record`), "
                                      "what the model's requirements ask for, and what the rebuilt environment has; "
                                      "packages that differ first, then a verdict.")
    opt.add_uri(diff)
    diff.add_argument("--expected", metavar="PATH_OR_URI", help="expectations file whose training-env freeze to use")
    diff.add_argument("--all", action="store_true", help="list every package (default: only those that differ, and python)")
    diff.add_argument("--exit-code", action="store_true", help="exit 1 when a package differs, 0 when none does (like git diff)")
    opt.add_print_json(diff)
    opt.add_env(diff)

    serve = sub.add_parser("serve-check", help="serve the model with MLflow's scoring server and check its answer",
                           description="Start MLflow's scoring server for the model inside the rebuilt environment on a free "
                                       "loopback port, POST serving_input_example.json to /invocations and compare the answer "
                                       "with the recorded prediction; the server is stopped afterwards.")
    opt.add_uri(serve)
    opt.add_expected(serve)
    opt.add_tolerances(serve)
    serve.add_argument("--start-timeout", type=float, default=180.0, metavar="SECONDS", help="limit for the server to get ready (default: 180)")
    serve.add_argument("--request-timeout", type=float, default=120.0, metavar="SECONDS", help="limit for the answer (default: 120)")
    opt.add_reports(serve)
    opt.add_env(serve)
    opt.add_sandbox(serve)

    lock = sub.add_parser("lock", help="write the rebuilt environment as an exact lock (pins and hashes)",
                          description="Build (or reuse) the model's environment and write its installed packages as "
                                      "requirements with == pins and --hash lines. `envforge verify --lock FILE` installs "
                                      "exactly that set; `envforge record --store-lock` stores one with the model.")
    opt.add_uri(lock)
    lock.add_argument("-o", "--output", type=Path, metavar="FILE", help="where to write it (default: standard output)")
    opt.add_env(lock)


def _add_entry_sandbox(p: argparse.ArgumentParser) -> None:
    """run/shell: verify's sandbox and minimal environment, the same default (execution/enter_sandbox.py)."""
    opt.add_sandbox(p)
    opt.add_pass_env(p)


def _load(args: argparse.Namespace, err: Any) -> Any:
    from envforge.pipeline import load_model

    return load_model(args.uri, backend=args.backend, tracking_uri=args.tracking_uri, refresh=args.refresh, lock=args.lock,
                      stored_lock=not args.no_stored_lock, build=opt.build_options(args),
                      download=opt.option_parts(args).download, progress=say(err))


def cmd_shell(args: argparse.Namespace, out: Any, err: Any) -> int:
    return _enter(args, None, err)


def cmd_run(args: argparse.Namespace, out: Any, err: Any) -> int:
    from envforge.errors import UsageError

    # argparse drops a `--` right after the URI and keeps everything else: so a command that starts
    # with an option means envforge options came after the URI, and they end at the first `--`.
    command = list(args.argv)
    if command and command[0].startswith("-"):
        if "--" not in command:
            raise UsageError(f"Options after the URI must be followed by `--` and the command: {' '.join(command)}.", f"Usage: {_RUN_USAGE}")
        cut = command.index("--")
        before, command = command[:cut], command[cut + 1:]
        if before:  # envforge options given after the URI: parse them like the ones before it
            extra = argparse.ArgumentParser(prog="envforge run", usage=_RUN_USAGE, add_help=False)
            opt.add_env(extra)
            _add_entry_sandbox(extra)
            extra.add_argument("-q", "--quiet", action="store_true")  # as every command has (cli/conventions.py)
            extra.add_argument("-v", "--verbose", action="store_true")
            try:
                _, unknown = extra.parse_known_args(before, namespace=args)
            except SystemExit:  # argparse has printed what is wrong (e.g. a bad --backend)
                unknown = before
            if unknown:
                raise UsageError(f"Unknown envforge options before `--`: {' '.join(unknown)}.", f"Usage: {_RUN_USAGE}")
    if not command:
        raise UsageError("No command given to run.", f"Usage: {_RUN_USAGE}, e.g. envforge run URI -- python my_debug.py")
    return _enter(args, command, err)


def _enter(args: argparse.Namespace, command: list[str] | None, err: Any) -> int:
    from envforge.commands.enter import enter

    parts = opt.option_parts(args)
    return enter(args.uri, command, python=bool(getattr(args, "repl", False)), build=parts.build, run=parts.run, announce=say(err),
                 backend=args.backend, tracking_uri=args.tracking_uri, refresh=args.refresh, lock=args.lock,
                 stored_lock=not args.no_stored_lock, download=parts.download)


def cmd_diff(args: argparse.Namespace, out: Any, err: Any) -> int:
    from envforge.commands.diff import diff_env
    from envforge.pipeline import find_expectations, open_env

    loaded = _load(args, err)
    with open_env(loaded, opt.build_options(args), say(err), run=opt.option_parts(args).run) as env:
        recorded = find_expectations(loaded.model.path, args.expected, args.tracking_uri)
        result = diff_env(loaded, env, recorded)
    about = {"uri": args.uri, "model_dir": str(loaded.model.path),
             "env": {"key": env.key, "path": str(env.path), "backend": env.backend, "python": env.python_version,
                     "reused": env.reused, "lock": loaded.lock.source if loaded.lock else None,
                     "resolved_as_of": env.resolved_as_of},
             "expectations": recorded.source if recorded else None}
    code = diff_exit_code(result, args.exit_code)
    if args.json:
        print(json.dumps({**about, **result.to_dict()}, indent=2))
        return code
    _print_diff(out, about, result, args.all)
    return code


def diff_exit_code(result: Any, asked: bool) -> int:
    """--exit-code: 1 when a package differs (changed, missing, unsatisfied, added), else 0; without it always 0."""
    return 1 if asked and any(row.differs for row in result.rows) else 0


def _print_diff(out: Any, about: dict[str, Any], result: Any, show_all: bool) -> None:
    from rich.table import Table

    env = about["env"]
    built_from = f"the lock {env['lock']}" if env["lock"] else "the model's requirements"
    out.print(f"[bold]envforge diff[/] {escape(about['uri'])}: env {env['key'][:12]} ({env['backend']}, python {env['python']}, "
              f"{'reused' if env['reused'] else 'built'}) from {escape(built_from)}, resolved as of "
              f"{env.get('resolved_as_of') or 'latest'}", highlight=False)
    columns = (["recorded (training)"] if result.recorded else []) + ["requested", "installed (rebuilt)"]
    table = Table(show_edge=False, pad_edge=False)
    for title in ["package", *columns, "status"]:
        table.add_column(title)
    hidden = 0
    for row in result.rows:
        if not (show_all or row.differs or row.name == "python"):
            hidden += 1
            continue
        style = "bold red" if row.status in ("missing", "unsatisfied") else ("yellow" if row.differs else "")
        cells = ([row.recorded or "-"] if result.recorded else []) + [row.requested or "-", row.installed or "-"]
        table.add_row(row.name, *(escape(c) for c in cells), f"[{style}]{row.status}[/]" if style else row.status)
    out.print(table)
    if hidden:
        out.print(f"  [dim]{hidden} package(s) that do not differ not shown (--all lists every one)[/]", highlight=False)
    out.print(f"[bold]verdict:[/] {escape(result.verdict)}", highlight=False)


def cmd_serve_check(args: argparse.Namespace, out: Any, err: Any) -> int:
    from envforge.cli.stdout_report import shown
    from envforge.commands.serve_check import serve_check
    from envforge.report.console import ConsoleProgress
    from envforge.reporters.catalog import subscribe
    from envforge.reporters.stream import VERIFY, Context, RunEnded, RunStarted, Verdict

    stream = subscribe(Context(VERIFY, out=out, err=err, json_path=args.json, junit_path=args.junit,  # "wrote" even with -q
                               asked=[args.json, args.junit], shown=shown, options=args))
    stream.started(RunStarted(VERIFY, 1))
    if not args.quiet:
        err.print(f"[bold]envforge serve-check[/] {escape(args.uri)} [dim](backend {args.backend})[/]", highlight=False)
    result = serve_check(args.uri, progress=ConsoleProgress(err), backend=args.backend, tracking_uri=args.tracking_uri,
                         expected=args.expected, lock=args.lock, rtol=args.rtol, atol=args.atol, refresh=args.refresh,
                         start_timeout=args.start_timeout, request_timeout=args.request_timeout, **opt.build_keywords(args))
    stream.verdict(Verdict(args.uri, result))  # the verdict first, then the files
    with report_errors():
        stream.ended(RunEnded([result]))
    return result.exit_code


def cmd_lock(args: argparse.Namespace, out: Any, err: Any) -> int:
    from envforge.pipeline import write_lock

    written = write_lock(_load(args, err), args.uri, opt.build_options(args), say(err), run=opt.option_parts(args).run)
    if args.output is None:
        print(written.text, end="")
        err.print(f"locked {escape(written.summary)}", highlight=False)  # its digest: the one `verify --attest` names
        return 0
    write_atomically(args.output, written.text)
    out.print(f"[bold green]locked[/] {escape(written.summary)} -> {escape(str(args.output))}", highlight=False)
    return 0


COMMANDS = {"shell": cmd_shell, "run": cmd_run, "diff": cmd_diff, "serve-check": cmd_serve_check, "lock": cmd_lock}
