"""What the reports and listings show (issue 14): diff's changed rows by default and --exit-code, the HTML
report's date, tracking server and version, `cache list`'s path and ISO 8601 times."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from rich.console import Console

from envforge.cli.debug_commands import _print_diff, diff_exit_code
from envforge.commands.diff import EnvDiff, Row
from envforge.registry.html import render
from envforge.version import __version__
from tests.support.cli import envforge

ABOUT = {"uri": "models:/iris/1", "env": {"key": "k" * 64, "backend": "uv", "python": "3.12.1", "reused": True, "lock": None}}
ROWS = (Row("python", "3.12.1", "3.12.1", "3.12.1", "same"), Row("scikit-learn", "1.5.2", "<1.6", "1.5.1", "changed"),
        Row("numpy", "2.1.0", None, "2.1.0", "same"), Row("jupyter", "1.0", None, None, "training-only"))


def _printed(rows: tuple[Row, ...], show_all: bool) -> str:
    out = io.StringIO()
    _print_diff(Console(file=out, width=200), ABOUT, EnvDiff(rows=rows, recorded=True, verdict="1 package changed"), show_all)
    return out.getvalue()


def test_diff_shows_what_differs_by_default_and_every_row_with_all() -> None:
    default = _printed(ROWS, show_all=False)
    assert "scikit-learn" in default and "python" in default
    assert "numpy" not in default and "jupyter" not in default
    assert "2 package(s) that do not differ not shown (--all lists every one)" in default
    every = _printed(ROWS, show_all=True)
    assert "numpy" in every and "jupyter" in every and "not shown" not in every


def test_diff_exit_code_is_1_only_when_asked_and_something_differs() -> None:
    differing = EnvDiff(rows=ROWS, recorded=True, verdict="")
    same = EnvDiff(rows=(ROWS[0], ROWS[2]), recorded=True, verdict="")
    assert diff_exit_code(differing, True) == 1 and diff_exit_code(same, True) == 0 and diff_exit_code(differing, False) == 0


def test_html_report_shows_the_date_the_tracking_server_and_the_version() -> None:
    page = render([], "0 passed", [], tracking_uri="https://ci:s3cret@mlflow.example", generated_at="2026-12-02T06:00:00Z")
    meta = re.search(r"<p id='meta'[^>]*>(.*?)</p>", page)
    assert meta is not None
    assert "2026-12-02T06:00:00Z" in meta.group(1) and f"envforge {__version__}" in meta.group(1)
    assert "mlflow.example" in meta.group(1) and "s3cret" not in page


def test_cache_list_shows_its_path_and_iso_times(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "envs" / "0123456789abcdef").mkdir(parents=True)  # an unfinished build: listed all the same
    text = envforge("cache", "list", home=home)
    assert text.returncode == 0 and f"cache: {home / 'envs'}" in text.stdout, text.output
    listed = json.loads(envforge("cache", "list", "--json", home=home).stdout)
    assert listed["path"] == str(home / "envs")
    [env] = listed["envs"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", env["last_used_at"])


def test_bisect_json_has_the_report_header() -> None:
    from envforge.cli.bisect_commands import bisect_document
    from envforge.commands.bisect import BisectResult

    document = bisect_document(BisectResult("models:/iris/1"), "2026-12-02T06:00:00Z")
    assert document["schema_version"] == 2 and document["envforge_version"] == __version__ and document["kind"] == "bisect"
    assert document["started_at"] == "2026-12-02T06:00:00Z" and re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", document["finished_at"])
    assert document["uri"] == "models:/iris/1"
