"""envforge's command line: the command table, the parser built from it, and the one place where an
outcome becomes an exit code and a message. Each command group is a small module of this package
(parsing and printing only; the work is in envforge.commands, envforge.pipeline and the packages they use);
every option is defined once, in cli/options.py.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
from typing import Any

from envforge.cli import stdout_report, unknown_options
from envforge.cli.output import escape
from envforge.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_USAGE, EnvforgeError, Terminated
from envforge.spec.backend_catalog import NAMES as _BACKENDS
from envforge.version import __version__

DESCRIPTION = f"""\
envforge proves that a logged MLflow model still works when its environment is rebuilt:
it downloads the model, rebuilds its environment from what was logged ({", ".join(_BACKENDS[:-1])} or {_BACKENDS[-1]}),
installs its code_path wheels, runs its saved input example and compares the predictions with the ones
recorded by `envforge record`.

exit codes: 0 passed (or unverified), 1 predictions differ or the model failed,
            2 bad usage or bad model directory, 3 environment could not be built
"""

# The command table: each group module's add_parsers() adds its subcommands and its COMMANDS maps them to handlers.
GROUPS = ("model_commands", "debug_commands", "bisect_commands", "cache_commands", "registry_commands", "docker_commands",
          "attest_commands")


def _groups() -> list[Any]:
    return [importlib.import_module(f"envforge.cli.{name}") for name in GROUPS]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="envforge", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"envforge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in _groups():
        group.add_parsers(sub)
    from envforge.cli.conventions import apply

    apply(sub)  # every command: Examples, -q/--quiet, -v/--verbose
    return parser


def commands() -> dict[str, Any]:
    table: dict[str, Any] = {}
    for group in _groups():
        table.update(group.COMMANDS)
    return table


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = unknown_options.parse(parser, argv)  # an unknown option: exit 2 with the closest one it has
    except EnvforgeError as exc:
        from rich.console import Console

        from envforge.report.console import print_error

        print_error(Console(stderr=True, soft_wrap=True), exc.message, exc.remedy)
        return exc.exit_code
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    from rich.console import Console

    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "INFO" if getattr(args, "verbose", False) else "WARNING")  # MLflow's INFO lines are not envforge's output

    out, err = Console(soft_wrap=True), Console(stderr=True, soft_wrap=True)
    err.envforge_quiet = bool(getattr(args, "quiet", False))  # -q: progress lines off (cli/output.say, ConsoleProgress)
    previous = _on_sigterm()
    try:
        from envforge.cli.conventions import settle_uri
        from envforge.cli.preflight import check_outputs

        settle_uri(args)
        out, standin = stdout_report.settle(args, out, err)  # --json -: the document alone on stdout
        check_outputs(args)  # before any work: a report path that cannot be written is exit 2 now, not after the build
        from envforge.modeldir.sqlite_store import check_args

        check_args(args)  # a sqlite store that is not there: exit 2 now, and MLflow never creates it
        from envforge.cli import backend_ready

        backend_ready.check(args)  # a backend that cannot run here (its extra, its engine): exit 3 before any download
        try:
            return int(commands()[args.command](args, out, err))
        finally:
            stdout_report.finish(standin)
    except EnvforgeError as exc:
        from envforge.report.console import print_error

        print_error(err, exc.message, exc.remedy)
        return exc.exit_code
    except Terminated:
        err.print("[bold]envforge: terminated (SIGTERM)[/]: child processes were stopped; an environment being built "
                  "was removed, so the next run builds it again")
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        err.print("[bold]envforge: interrupted[/]")
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug: say so in one paragraph, full traceback on request
        if os.environ.get("ENVFORGE_DEBUG"):
            raise
        err.print(f"[bold red]envforge: internal error[/] {type(exc).__name__}: {escape(str(exc))}. "
                  "This is a bug in envforge; rerun with ENVFORGE_DEBUG=1 for the traceback and report it.", highlight=False)
        return EXIT_INTERNAL
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


def run() -> None:
    """The `envforge` console script: main(), then a quick exit (cli/quick_exit.py) once nothing is left to clean up."""
    from envforge.cli.quick_exit import leave

    leave(main())


if __name__ == "__main__":
    run()
