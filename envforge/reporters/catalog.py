"""Which reporters a run has: the built-in ones below, then any installed under the `envforge.reporters`
entry-point group. Each is a module with `reporter(context) -> Reporter | None` (None: not asked for by the
options given). Their order is the order they get each event.

Add a report format: a module with a `stream.Reporter` subclass and that function, and one line in BUILTIN
(or, outside envforge, an entry point `envforge.reporters` naming the module or the function)."""

from __future__ import annotations

import argparse
import importlib
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from envforge.errors import UsageError
from envforge.reporters import plugin_index
from envforge.reporters.stream import Context, Dispatcher, Reporter

ENTRY_POINTS = "envforge.reporters"
BUILTIN = [
    "envforge.reporters.registry_tags",  # --tag-results: envforge.* tags on each version (before the summary lines)
    "envforge.reporters.terminal",  # the verdict lines, the summary, "wrote ..."
    "envforge.reporters.json_file",  # --json
    "envforge.reporters.junit_file",  # --junit
    "envforge.reporters.html_file",  # --html
    "envforge.reporters.mlflow_run",  # --log-to: last, it uploads the files the writers above made
]


def subscribe(context: Context) -> Dispatcher:
    """A dispatcher feeding every reporter the options of `context` ask for."""
    chosen = []
    for factory in [importlib.import_module(name).reporter for name in BUILTIN] + _installed():
        reporter = factory(context)
        if reporter is not None:
            chosen.append(reporter)
    return Dispatcher(chosen)


def _installed() -> list[Callable[[Context], Reporter | None]]:
    out = []
    for name, value in plugin_index.points(ENTRY_POINTS):  # scanned again only when what is installed changed
        try:
            loaded: Any = plugin_index.load(value)
        except Exception as exc:  # a plug-in's own bug: name it, never a traceback of envforge's
            raise UsageError(f"The report plug-in {name} ({value}, entry point {ENTRY_POINTS}) could not be "
                             f"loaded: {type(exc).__name__}: {exc}.",
                             "Fix or uninstall the package that provides it; envforge's own reports need nothing from it.") from None
        out.append(getattr(loaded, "reporter", loaded))
    return out


@contextmanager
def report_paths(args: argparse.Namespace) -> Iterator[tuple[Path | None, Path | None, Path | None]]:
    """--json, --junit and --html as given; with --log-to, the ones not given in a temporary directory."""
    if not getattr(args, "log_to", None):
        yield args.json, args.junit, getattr(args, "html", None)
        return
    with tempfile.TemporaryDirectory(prefix="envforge-log-") as tmp:
        yield (args.json or Path(tmp, "envforge-report.json"), args.junit or Path(tmp, "envforge-report.xml"),
               args.html or Path(tmp, "envforge-report.html"))


def write_files(event: Any, json_path: Path | None, junit_path: Path | None, command: str = "verify-registry") -> None:
    """Only the report files of a run's end (no console): a registry listing refused before any verdict, a test."""
    subscribe(Context(command, console=False, json_path=json_path, junit_path=junit_path)).ended(event)
