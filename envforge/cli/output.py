"""What every command prints through: text escaped for rich (and redacted), progress lines, report files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def escape(text: str) -> str:
    """`text` safe to print with rich markup, credentials in URLs redacted."""
    from rich.markup import escape as rich_escape

    from envforge.redact import redact

    return rich_escape(redact(text))


def say(err: Any) -> Callable[[str], None]:
    """A progress callback that prints dim `envforge: ...` lines to `err`."""
    return lambda text: err.print(f"[dim]envforge: {escape(text)}[/]", highlight=False)


def write_reports(results: list[Any], json_path: Path | None, junit_path: Path | None) -> None:
    if json_path:
        from envforge.report.json_report import write_json

        write_json(results, json_path)
    if junit_path:
        from envforge.report.junit import write_junit

        write_junit(results, junit_path)


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
