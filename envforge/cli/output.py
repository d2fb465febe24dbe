"""What every command prints through: text escaped for rich (and redacted), progress lines, a report file that cannot be written."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def escape(text: str) -> str:
    """`text` safe to print with rich markup, credentials in URLs redacted."""
    from rich.markup import escape as rich_escape

    from envforge.redact import redact

    return rich_escape(redact(text))


def say(err: Any) -> Callable[[str], None]:
    """A progress callback that prints dim `envforge: ...` lines to `err`."""
    if getattr(err, "envforge_quiet", False):  # -q
        return lambda text: None
    return lambda text: err.print(f"[dim]envforge: {escape(text)}[/]", highlight=False)


@contextlib.contextmanager
def report_errors() -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        from envforge.errors import UsageError

        raise UsageError(f"Could not write the report {exc.filename}: {exc.strerror or exc}.",
                         "Free some space or pass another path; the verdict above stands.") from None


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
