"""Command-line interface: argument parsing and printing only; the work is in the modules."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import Any

from envforge import __version__
from envforge.cli_docker import add_docker_options, docker_options
from envforge.cli_docker import add_parsers as add_docker_parsers
from envforge.errors import EXIT_USAGE, EnvforgeError, Terminated

DESCRIPTION = """\
envforge proves that a logged MLflow model still works when its environment is rebuilt:
it downloads the model, rebuilds its environment from what was logged (uv or virtualenv), installs its
code_path wheels, runs its saved input example and compares the predictions with the ones
recorded by `envforge record`.

exit codes: 0 passed (or unverified), 1 predictions differ or the model failed,
            2 bad usage or bad model directory, 3 environment could not be built
"""

BACKENDS = ("uv", "virtualenv", "conda", "docker")
URI_HELP = ("model URI: a local directory, file:..., runs:/<run_id>/<path>, models:/<name>/<version>, "
            "models:/<name>@<alias>, models:/<name>/latest or models:/m-<model id>")


def add_conda_options(p: argparse.ArgumentParser) -> None:
    """The conda backend's options (envforge.backends.conda); the other backends ignore them."""
    p.add_argument("--channel", action="append", default=[], metavar="URL",
                   help="--backend conda: a conda channel (name or URL; repeatable) replacing conda.yaml's, e.g. a mirror")
    p.add_argument("--lockfile", metavar="FILE", help="--backend conda: install exactly this conda-lock file, no solve "
                                                      "(default: the model's conda-lock.yml, if it has one)")
    p.add_argument("--conda-exe", metavar="PATH", help="--backend conda: solve with this conda, mamba or micromamba instead of py-rattler")


def resolve_value(text: str) -> str:
    """argparse type of --resolve: a bad or future date is a usage error (exit 2), before anything is downloaded."""
    from envforge.asof import check_option

    try:
        check_option(text)
    except EnvforgeError as exc:
        raise argparse.ArgumentTypeError(exc.paragraph()) from None
    return text.strip()


def add_resolve_option(p: argparse.ArgumentParser) -> None:
    """--resolve: as of when unpinned requirements are resolved (envforge.asof); part of the env's key."""
    from envforge.asof import HELP

    p.add_argument("--resolve", type=resolve_value, metavar="logged|latest|DATE", help=HELP)


def build_parser() -> argparse.ArgumentParser:
    from envforge.compare import DEFAULT_ATOL, DEFAULT_RTOL

    parser = argparse.ArgumentParser(prog="envforge", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"envforge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def tracking(p: argparse.ArgumentParser) -> None:
        p.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else MLflow's default)")

    def index(p: argparse.ArgumentParser) -> None:  # the user's index settings; they are part of the env's key
        p.add_argument("--index-url", metavar="URL", help="package index to use instead of the model's (or the installer's default)")
        p.add_argument("--extra-index-url", action="append", default=[], metavar="URL",
                       help="another package index, asked before the model's own extra indexes (repeatable)")
        p.add_argument("--find-links", action="append", default=[], metavar="DIR_OR_URL",
                       help="a directory or page of wheels to install from (repeatable)")

    verify = sub.add_parser("verify", help="rebuild a model's environment and check its predictions",
                            description="Rebuild the model's environment, run its input examples inside it and compare "
                                        "the predictions with the recorded ones.")
    verify.add_argument("uri", help=URI_HELP)
    tracking(verify)
    verify.add_argument("--backend", default="uv", choices=BACKENDS,
                        help="how to build the environment: uv, virtualenv + the env's own pip, conda "
                             "(conda.yaml, locked with conda-lock's format, installed with py-rattler), or docker "
                             "(an image, the model verified in a container of it) (default: uv)")
    verify.add_argument("--expected", metavar="PATH_OR_URI",
                        help="expectations file to compare with (default: the one `envforge record` stored with the model)")
    verify.add_argument("--require-expected", action="store_true", help="fail (exit 1) when there are no expectations instead of reporting 'unverified'")
    verify.add_argument("--input", action="append", default=[], metavar="FILE", help="a JSON input example to run (repeatable); replaces the model's own")
    verify.add_argument("--rtol", type=float, default=DEFAULT_RTOL, help=f"relative tolerance for floats (default: {DEFAULT_RTOL:g})")
    verify.add_argument("--atol", type=float, default=DEFAULT_ATOL, help=f"absolute tolerance for floats (default: {DEFAULT_ATOL:g})")
    verify.add_argument("--json", type=Path, metavar="FILE", help="write the result as JSON")
    verify.add_argument("--junit", type=Path, metavar="FILE", help="write the result as JUnit XML")
    verify.add_argument("--refresh", action="store_true", help="download the model again even when it is cached")
    verify.add_argument("--python", metavar="PATH", help="use this interpreter for the environment")
    verify.add_argument("--python-match", choices=["auto", "exact", "minor"], default="auto",
                        help="auto (default): the logged patch version if installed, else the same minor with a warning")
    verify.add_argument("--allow-python-download", action="store_true", help="let uv download a missing interpreter")
    verify.add_argument("--offline", action="store_true",
                        help="never access a package index: install only from the model's wheels, --find-links and the installer's cache")
    index(verify)
    add_resolve_option(verify)
    add_conda_options(verify)
    add_docker_options(verify)
    verify.add_argument("--predict-timeout", type=float, default=900.0, metavar="SECONDS", help="limit for loading and predicting (default: 900)")
    verify.add_argument("--build-timeout", type=float, default=1800.0, metavar="SECONDS",
                        help="limit for each step of building the environment: creating it, each install (default: 1800)")
    verify.add_argument("--download-timeout", type=float, default=600.0, metavar="SECONDS",
                        help="limit for fetching the model from the tracking server (default: 600)")
    verify.add_argument("--pass-env", action="append", default=[], metavar="NAME",
                        help="let the model's process see this environment variable (repeatable); it otherwise gets a "
                             "minimal environment: no cloud credentials or tokens")
    verify.add_argument("-q", "--quiet", action="store_true", help="print only the verdict")
    verify.add_argument("--lock", metavar="FILE", help="install exactly the packages of this lock (`envforge lock`) instead of the "
                                                       "model's requirements (default: the lock stored by `record --lock`, if any)")

    record = sub.add_parser("record", help="store the model's predictions from the current (training) environment",
                            description="Run the model in the current Python environment (in a subprocess) and store its "
                                        "predictions and a freeze of the environment next to the model.")
    record.add_argument("uri", help=URI_HELP)
    tracking(record)
    record.add_argument("--input", action="append", default=[], metavar="FILE", help="also record on this JSON input (repeatable)")
    record.add_argument("--python", metavar="PATH", help="the training environment's interpreter (default: the one running envforge)")
    record.add_argument("--lock", action="store_true", help="also rebuild the environment and store its exact lock with the model; "
                                                             "later verifies install exactly that set")
    add_resolve_option(record)

    inspect = sub.add_parser("inspect", help="show what envforge reads from a model, without building anything")
    inspect.add_argument("uri", help=URI_HELP)
    tracking(inspect)
    inspect.add_argument("--json", action="store_true", help="print JSON")
    inspect.add_argument("--backend", default="uv", choices=BACKENDS,
                         help="the backend whose environment key to show (default: uv)")
    index(inspect)
    add_resolve_option(inspect)

    quick = sub.add_parser("quickstart", help="train, log, record and verify a tiny model in a local MLflow store",
                           description="Train a tiny scikit-learn model, log it with an input example to a local MLflow "
                                       "store (SQLite), record its predictions, and verify it with the uv backend.")
    quick.add_argument("--dir", type=Path, default=Path("envforge-quickstart"), help="where the local store lives (default: ./envforge-quickstart)")
    from envforge.cli_debug import add_parsers

    add_parsers(sub)  # shell, run, diff, serve-check, lock, cache
    from envforge.registry.cli import add_parsers as add_registry_parsers

    add_registry_parsers(sub)  # verify-registry, status
    add_docker_parsers(sub)  # dockerfile
    from envforge.cli_bisect import add_parsers as add_bisect_parsers

    add_bisect_parsers(sub)  # bisect
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    from rich.console import Console

    out, err = Console(soft_wrap=True), Console(stderr=True, soft_wrap=True)
    previous = _on_sigterm()
    try:
        return int(COMMANDS[args.command](args, out, err))
    except EnvforgeError as exc:
        err.print(f"[bold red]envforge:[/] {_escape(exc.paragraph())}", highlight=False)
        return exc.exit_code
    except Terminated:
        err.print("[bold]envforge: terminated (SIGTERM)[/]: child processes were stopped; an environment being built "
                  "was removed, so the next run builds it again")
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        err.print("[bold]envforge: interrupted[/]")
        return 130
    except Exception as exc:  # a bug: say so in one paragraph, full traceback on request
        if os.environ.get("ENVFORGE_DEBUG"):
            raise
        err.print(f"[bold red]envforge: internal error[/] {type(exc).__name__}: {_escape(str(exc))}. "
                  "This is a bug in envforge; rerun with ENVFORGE_DEBUG=1 for the traceback and report it.", highlight=False)
        return 70
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _on_sigterm() -> Any:
    """A cancelled CI job sends SIGTERM: unwind like Ctrl-C (kill child process groups, remove a
    half-built env, release locks) instead of dying with children left running."""
    def handler(signum: int, frame: object) -> None:
        raise Terminated(signum)

    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (main() called from a thread): leave signals alone
        return None


def _escape(text: str) -> str:
    from rich.markup import escape

    from envforge.redact import redact

    return escape(redact(text))


def cmd_verify(args: argparse.Namespace, out: Any, err: Any) -> int:
    from envforge.report.console import ConsoleProgress, print_result
    from envforge.verify import verify

    if not args.quiet:
        err.print(f"[bold]envforge verify[/] {_escape(args.uri)} [dim](backend {args.backend})[/]", highlight=False)
    result = verify(
        args.uri, progress=None if args.quiet else ConsoleProgress(err), backend=args.backend,
        tracking_uri=args.tracking_uri, expected=args.expected, require_expected=args.require_expected,
        inputs=tuple(args.input), rtol=args.rtol, atol=args.atol, refresh=args.refresh,
        predict_timeout=args.predict_timeout, python=args.python, python_match=args.python_match,
        allow_python_download=args.allow_python_download, offline=args.offline, timeout=args.build_timeout,
        download_timeout=args.download_timeout, pass_env=tuple(args.pass_env), index_url=args.index_url,
        extra_index_urls=tuple(args.extra_index_url), find_links=tuple(args.find_links),
        lock=args.lock, channels=tuple(args.channel), lockfile=args.lockfile, conda_exe=args.conda_exe,
        resolve=args.resolve, **docker_options(args),
    )
    write_reports([result], args.json, args.junit)
    print_result(out, result)
    return result.exit_code


def write_reports(results: list[Any], json_path: Path | None, junit_path: Path | None) -> None:
    if json_path:
        from envforge.report.json_report import write_json

        write_json(results, json_path)
    if junit_path:
        from envforge.report.junit import write_junit

        write_junit(results, junit_path)


def cmd_record(args: argparse.Namespace, out: Any, err: Any) -> int:
    from envforge.record import record

    with err.status("recording predictions in the current environment…"):
        from envforge.backends.base import BuildOptions

        result = record(args.uri, tracking_uri=args.tracking_uri, inputs=tuple(args.input), python=args.python, lock=args.lock,
                        build=BuildOptions(resolve=args.resolve))
    out.print(f"[bold green]recorded[/] {len(result.examples)} example(s) with Python {result.python} "
              f"-> {_escape(result.location)}", highlight=False)
    if result.lock:
        out.print(f"[bold green]locked[/] the rebuilt environment -> {_escape(result.lock)}", highlight=False)
    return 0


def cmd_inspect(args: argparse.Namespace, out: Any, err: Any) -> int:
    import json

    from envforge.inspect import inspect

    info = inspect(args.uri, tracking_uri=args.tracking_uri, backend=args.backend, index_url=args.index_url,
                   extra_index_urls=tuple(args.extra_index_url), find_links=tuple(args.find_links), resolve_as=args.resolve)
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    for key, value in info.items():
        if isinstance(value, (list, tuple)):
            out.print(f"[bold]{key}:[/]" + ("" if value else " (none)"), highlight=False)
            for item in value:
                out.print(f"  - {_escape(str(item))}", highlight=False)
        else:
            out.print(f"[bold]{key}:[/] {_escape(str(value))}", highlight=False)
    return 0


def cmd_quickstart(args: argparse.Namespace, out: Any, err: Any) -> int:
    from envforge.quickstart import log_quickstart_model
    from envforge.record import record

    with err.status("training and logging a scikit-learn iris model…"):
        model = log_quickstart_model(args.dir)
    out.print(f"logged [bold]{model.model_uri}[/] to {model.tracking_uri}", highlight=False)
    with err.status("recording its predictions in this environment…"):
        recorded = record(model.model_uri, tracking_uri=model.tracking_uri)
    out.print(f"recorded {len(recorded.examples)} example(s) -> {_escape(recorded.location)}", highlight=False)
    args.uri, args.tracking_uri, args.backend = model.model_uri, model.tracking_uri, "uv"
    defaults = build_parser().parse_args(["verify", model.model_uri])
    for name, value in vars(defaults).items():
        if not hasattr(args, name):
            setattr(args, name, value)
    return cmd_verify(args, out, err)


COMMANDS = {"verify": cmd_verify, "record": cmd_record, "inspect": cmd_inspect, "quickstart": cmd_quickstart}


def _debug_commands() -> None:
    from envforge.cli_debug import COMMANDS as debug

    COMMANDS.update(debug)


_debug_commands()


def _docker_commands() -> None:
    from envforge.cli_docker import COMMANDS as docker

    COMMANDS.update(docker)


_docker_commands()


def _registry_commands() -> None:
    from envforge.registry.cli import COMMANDS as registry

    COMMANDS.update(registry)


_registry_commands()


def _bisect_commands() -> None:
    from envforge.cli_bisect import COMMANDS as bisect

    COMMANDS.update(bisect)


_bisect_commands()


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
