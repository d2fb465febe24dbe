"""Credentials in index URLs quoted by an error never reach a report, whatever path the error took."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from envforge.report.console import print_result
from envforge.report.json_report import write_json
from envforge.report.junit import write_junit
from envforge.result import ERROR, VerifyResult

TOKEN = "tok-123-secret"


def test_json_junit_and_console_redact_every_field(tmp_path: Path) -> None:
    url = f"https://ci:{TOKEN}@pkgs.example/simple"
    result = VerifyResult(uri=f"models:/m/1?token={TOKEN}", backend="uv")
    result.error = {"kind": "EnvBuildError", "message": f"uv pip install --extra-index-url {url} failed", "remedy": "fix"}
    result.warnings.append(f"index {url} answered slowly")
    result.finish(ERROR, f"could not reach {url}")
    write_json([result], tmp_path / "r.json")
    write_junit([result], tmp_path / "r.xml")
    console = io.StringIO()
    print_result(Console(file=console, width=300), result)
    for text in ((tmp_path / "r.json").read_text(), (tmp_path / "r.xml").read_text(), console.getvalue()):
        assert TOKEN not in text and "***@pkgs.example" in text
