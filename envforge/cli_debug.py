"""CLI for debugging a model's rebuilt env: shell, run, diff, serve-check, lock, cache.

Argument parsing and printing only; the work is in envforge.enter, envdiff, serve_check,
lockfile and cache_admin. Registered by envforge.cli (add_parsers, COMMANDS).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

_RUN_USAGE = "envforge run [OPTIONS] URI -- COMMAND [ARG ...]"


def add_parsers(sub: Any) -> None:
    from envforge.cli import URI_HELP
    from envforge.compare import DEFAULT_ATOL, DEFAULT_RTOL

    shell = sub.add_parser("shell", help="a shell (or --python: a Python REPL) inside the model's rebuilt environment",
                           description="Build (or reuse) the model's environment and start a shell in it, with the env "
                                       "activated and the model directory in $MODEL_DIR. Exits with the shell's exit code.")
    shell.add_argument("uri", help=URI_HELP)
    shell.add_argument("--python", dest="repl", action="store_true", help="start the env's Python REPL instead of a shell")
    env_options(shell, interpreter_flag="--interpreter")

    run = sub.add_parser("run", help="run a command inside the model's rebuilt environment (exit code passed through)",
                         usage=_RUN_USAGE,
                         description="Build (or reuse) the model's environment and run COMMAND in it ($MODEL_DIR is the "
                                     "model directory; `python` is the env's). envforge's options go before `--`.")
    run.add_argument("uri", help=URI_HELP)
    env_options(run)
    run.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- COMMAND [ARG ...]", help="the command to run in the env")

    diff = sub.add_parser("diff", help="training env vs the model's requirements vs the rebuilt env, per package",
                          description="Per package: the version recorded in the training environment (by `envforge record`), "
                                      "what the model's requirements ask for, and what the rebuilt environment has; "
                                      "packages that differ first, then a verdict.")
    diff.add_argument("uri", help=URI_HELP)
    diff.add_argument("--expected", metavar="PATH_OR_URI", help="expectations file whose training-env freeze to use")
    diff.add_argument("--all", action="store_true", help="also list packages only the training environment had")
    diff.add_argument("--json", action="store_true", help="print JSON")
    env_options(diff)

    serve = sub.add_parser("serve-check", help="serve the model with MLflow's scoring server and check its answer",
                           description="Start MLflow's scoring server for the model inside the rebuilt environment on a free "
                                       "loopback port, POST serving_input_example.json to /invocations and compare the answer "
                                       "with the recorded prediction; the server is stopped afterwards.")
    serve.add_argument("uri", help=URI_HELP)
    serve.add_argument("--expected", metavar="PATH_OR_URI", help="expectations file to compare with")
    serve.add_argument("--rtol", type=float, default=DEFAULT_RTOL, help=f"relative tolerance for floats (default: {DEFAULT_RTOL:g})")
    serve.add_argument("--atol", type=float, default=DEFAULT_ATOL, help=f"absolute tolerance for floats (default: {DEFAULT_ATOL:g})")
    serve.add_argument("--start-timeout", type=float, default=180.0, metavar="SECONDS", help="limit for the server to get ready (default: 180)")
    serve.add_argument("--request-timeout", type=float, default=120.0, metavar="SECONDS", help="limit for the answer (default: 120)")
    serve.add_argument("--json", type=Path, metavar="FILE", help="write the result as JSON")
    serve.add_argument("--junit", type=Path, metavar="FILE", help="write the result as JUnit XML")
    env_options(serve)

    lock = sub.add_parser("lock", help="write the rebuilt environment as an exact lock (pins and hashes)",
                          description="Build (or reuse) the model's environment and write its installed packages as "
                                      "requirements with == pins and --hash lines. `envforge verify --lock FILE` installs "
                                      "exactly that set; `envforge record --lock` stores one with the model.")
    lock.add_argument("uri", help=URI_HELP)
    lock.add_argument("-o", "--output", type=Path, metavar="FILE", help="where to write it (default: standard output)")
    env_options(lock)

    cache = sub.add_parser("cache", help="list or prune the cached environments")
    actions = cache.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="key, backend, python, size, last use and models of each cached env")
    listing.add_argument("--json", action="store_true", help="print JSON")
    prune = actions.add_parser("prune", help="remove cached envs (never one another envforge process is using)")
    prune.add_argument("--older-than", metavar="AGE", help="remove envs unused for longer than AGE (e.g. 14d, 12h)")
    prune.add_argument("--max-size", metavar="SIZE", help="then remove the least recently used until the cache fits (e.g. 5G)")
    prune.add_argument("--all", action="store_true", help="remove every env not in use")
    prune.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    prune.add_argument("--json", action="store_true", help="print JSON")


def env_options(p: argparse.ArgumentParser, interpreter_flag: str = "--python") -> None:
    """How to get the env: the same options as verify's, plus --lock."""
    from envforge.backends import NAMES

    p.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else MLflow's default)")
    p.add_argument("--backend", default="uv", choices=list(NAMES), help="how to build the environment (default: uv)")
    p.add_argument("--lock", metavar="FILE", help="install exactly the packages of this lock (from `envforge lock`)")
    p.add_argument("--no-stored-lock", action="store_true", help="ignore a lock stored with the model by `record --lock`")
    p.add_argument(interpreter_flag, dest="interpreter", metavar="PATH", help="use this interpreter for the environment")
    p.add_argument("--python-match", choices=["auto", "exact", "minor"], default="auto", help="as for verify")
    p.add_argument("--allow-python-download", action="store_true", help="let uv download a missing interpreter")
    p.add_argument("--offline", action="store_true", help="never access a package index")
    p.add_argument("--index-url", metavar="URL", help="package index to use instead of the model's")
    p.add_argument("--extra-index-url", action="append", default=[], metavar="URL", help="another package index (repeatable)")
    p.add_argument("--find-links", action="append", default=[], metavar="DIR_OR_URL", help="a directory or page of wheels (repeatable)")
    p.add_argument("--refresh", action="store_true", help="download the model again even when it is cached")
    p.add_argument("--build-timeout", type=float, default=1800.0, metavar="SECONDS", help="limit for each step of the build (default: 1800)")
    p.add_argument("--download-timeout", type=float, default=600.0, metavar="SECONDS", help="limit for fetching the model (default: 600)")
    from envforge.cli import add_conda_options, add_resolve_option

    add_conda_options(p)
    add_resolve_option(p)
    p.add_argument("--base-image", metavar="IMAGE", help="--backend docker: the image to build on (default: python:<logged X.Y>-slim)")
    p.add_argument("--ca-bundle", metavar="PEM", help="--backend docker: CA certificates to trust while building (e.g. a proxy's)")


def build_options(args: argparse.Namespace) -> Any:
    from envforge.backends.base import BuildOptions

    return BuildOptions(python=args.interpreter, python_match=args.python_match, allow_python_download=args.allow_python_download,
                        offline=args.offline, timeout=args.build_timeout, download_timeout=args.download_timeout, index_url=args.index_url,
                        extra_index_urls=tuple(args.extra_index_url), find_links=tuple(args.find_links),
                        channels=tuple(args.channel), lockfile=args.lockfile, conda_exe=args.conda_exe,
                        base_image=args.base_image, ca_bundle=args.ca_bundle, resolve=args.resolve)


def _load(args: argparse.Namespace, err: Any) -> Any:
    from envforge.envs import load_model

    return load_model(args.uri, backend=args.backend, tracking_uri=args.tracking_uri, refresh=args.refresh, lock=args.lock,
                      stored_lock=not args.no_stored_lock, build=build_options(args), progress=_say(err))


def _say(err: Any) -> Any:
    from envforge.cli import _escape

    return lambda text: err.print(f"[dim]envforge: {_escape(text)}[/]", highlight=False)


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
            env_options(extra)
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
    from envforge.enter import enter

    return enter(args.uri, command, python=bool(getattr(args, "repl", False)), build=build_options(args), announce=_say(err),
                 backend=args.backend, tracking_uri=args.tracking_uri, refresh=args.refresh, lock=args.lock,
                 stored_lock=not args.no_stored_lock)


def cmd_diff(args: argparse.Namespace, out: Any, err: Any) -> int:
    from envforge import expectations as expectations_mod
    from envforge.envdiff import diff_env
    from envforge.envs import open_env

    loaded = _load(args, err)
    with open_env(loaded, build_options(args), _say(err)) as env:
        found = expectations_mod.find(loaded.model.path)
        recorded = expectations_mod.load(args.expected, tracking_uri=args.tracking_uri) if args.expected else (
            expectations_mod.load(found) if found else None)
        result = diff_env(loaded, env, recorded)
    about = {"uri": args.uri, "model_dir": str(loaded.model.path),
             "env": {"key": env.key, "path": str(env.path), "backend": env.backend, "python": env.python_version,
                     "reused": env.reused, "lock": loaded.lock.source if loaded.lock else None,
                     "resolved_as_of": env.resolved_as_of},
             "expectations": recorded.source if recorded else None}
    if args.json:
        print(json.dumps({**about, **result.to_dict()}, indent=2))
        return 0
    _print_diff(out, about, result, args.all)
    return 0


def _print_diff(out: Any, about: dict[str, Any], result: Any, show_all: bool) -> None:
    from rich.table import Table

    from envforge.cli import _escape

    env = about["env"]
    built_from = f"the lock {env['lock']}" if env["lock"] else "the model's requirements"
    out.print(f"[bold]envforge diff[/] {_escape(about['uri'])}: env {env['key'][:12]} ({env['backend']}, python {env['python']}, "
              f"{'reused' if env['reused'] else 'built'}) from {_escape(built_from)}, resolved as of "
              f"{env.get('resolved_as_of') or 'latest'}", highlight=False)
    columns = (["recorded (training)"] if result.recorded else []) + ["requested", "installed (rebuilt)"]
    table = Table(show_edge=False, pad_edge=False)
    for title in ["package", *columns, "status"]:
        table.add_column(title)
    for row in result.rows:
        if row.status == "training-only" and not show_all:
            continue
        style = "bold red" if row.status in ("missing", "unsatisfied") else ("yellow" if row.differs else "")
        cells = ([row.recorded or "-"] if result.recorded else []) + [row.requested or "-", row.installed or "-"]
        table.add_row(row.name, *(_escape(c) for c in cells), f"[{style}]{row.status}[/]" if style else row.status)
    out.print(table)
    out.print(f"[bold]verdict:[/] {_escape(result.verdict)}", highlight=False)


def cmd_serve_check(args: argparse.Namespace, out: Any, err: Any) -> int:
    from envforge.cli import _escape, write_reports
    from envforge.report.console import ConsoleProgress, print_result
    from envforge.serve_check import serve_check

    err.print(f"[bold]envforge serve-check[/] {_escape(args.uri)} [dim](backend {args.backend})[/]", highlight=False)
    options = build_options(args)
    result = serve_check(args.uri, progress=ConsoleProgress(err), backend=args.backend, tracking_uri=args.tracking_uri,
                         expected=args.expected, lock=args.lock, rtol=args.rtol, atol=args.atol, refresh=args.refresh,
                         start_timeout=args.start_timeout, request_timeout=args.request_timeout,
                         **{k: getattr(options, k) for k in options.__dataclass_fields__})
    write_reports([result], args.json, args.junit)
    print_result(out, result)
    return result.exit_code


def cmd_lock(args: argparse.Namespace, out: Any, err: Any) -> int:
    from envforge.cli import _escape
    from envforge.envs import open_env
    from envforge.lockfile import write_lock

    if args.backend == "conda":
        return _lock_conda(args, out, err)
    loaded = _load(args, err)
    options = build_options(args)
    with open_env(loaded, options, _say(err)) as env:
        text, local = write_lock(env, loaded.spec, loaded.model.path, args.uri, options)
    if args.output is None:
        print(text, end="")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_name(args.output.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(args.output)
    pinned = sum(1 for line in text.splitlines() if line and not line.startswith(("#", " ")))
    skipped = f"; not locked (the model's own files): {', '.join(p.name for p in local)}" if local else ""
    out.print(f"[bold green]locked[/] {pinned} packages with hashes (python {env.python_version}) -> {_escape(str(args.output))}"
              f"{_escape(skipped)}", highlight=False)
    return 0


def _lock_conda(args: argparse.Namespace, out: Any, err: Any) -> int:
    """`envforge lock --backend conda`: solve conda.yaml and write a conda-lock file (no env is built)."""
    import tempfile

    from envforge.backends.conda.lock import write_lock
    from envforge.cli import _escape
    from envforge.errors import EnvBuildError

    loaded = _load(args, err)
    unavailable = loaded.backend.available()
    if unavailable:
        raise EnvBuildError(f"The conda backend cannot run here: {unavailable}", "")
    with tempfile.TemporaryDirectory(prefix="envforge-lock-") as tmp:
        target = args.output or Path(tmp) / "conda-lock.yml"
        locked = write_lock(loaded.spec, loaded.model.path, target, build_options(args), _say(err))
        if args.output is None:
            print(target.read_text(), end="")
            return 0
    out.print(f"[bold green]locked[/] {len(locked.conda)} conda and {len(locked.pip)} pip packages with hashes "
              f"(python {locked.python_version}) -> {_escape(str(args.output))}", highlight=False)
    return 0


def cmd_cache(args: argparse.Namespace, out: Any, err: Any) -> int:
    from envforge import cache_admin

    if args.cache_command == "list":
        envs = cache_admin.list_envs()
        if args.json:
            print(json.dumps({"envs": [e.to_dict() for e in envs]}, indent=2))
        else:
            _print_envs(out, envs)
        return 0
    pruned = cache_admin.prune(older_than=cache_admin.parse_duration(args.older_than) if args.older_than else None,
                               max_size=cache_admin.parse_size(args.max_size) if args.max_size else None,
                               everything=args.all, dry_run=args.dry_run)
    if args.json:
        print(json.dumps(pruned.to_dict(), indent=2))
        return 0
    verb = "would remove" if args.dry_run else "removed"
    for env in pruned.removed:
        out.print(f"{verb} {env.path.name} ({cache_admin.human_size(env.size)}, last used {cache_admin.human_age(time.time() - env.last_used)})",
                  highlight=False)
    for env in pruned.in_use:
        out.print(f"[yellow]kept[/] {env.path.name}: in use by another envforge process", highlight=False)
    out.print(f"{verb} {len(pruned.removed)} env(s), {cache_admin.human_size(pruned.freed)}; "
              f"{len(pruned.kept) + len(pruned.in_use)} left", highlight=False)
    return 0


def _print_envs(out: Any, envs: list[Any]) -> None:
    from rich.table import Table

    from envforge import cache_admin
    from envforge.cli import _escape

    if not envs:
        out.print("no cached environments")
        return
    table = Table(show_edge=False, pad_edge=False)
    for title in ("key", "backend", "python", "size", "last used", "models"):
        table.add_column(title)
    for env in envs:
        models = ", ".join(env.models[-3:]) + (f" (+{len(env.models) - 3})" if len(env.models) > 3 else "")
        table.add_row(env.key[:12] + ("" if env.complete else " (unfinished)"), env.backend, env.python or "-",
                      cache_admin.human_size(env.size), cache_admin.human_age(time.time() - env.last_used), _escape(models or "-"))
    out.print(table)
    out.print(f"{len(envs)} env(s), {cache_admin.human_size(sum(e.size for e in envs))}", highlight=False)


COMMANDS = {"shell": cmd_shell, "run": cmd_run, "diff": cmd_diff, "serve-check": cmd_serve_check, "lock": cmd_lock,
            "cache": cmd_cache}
