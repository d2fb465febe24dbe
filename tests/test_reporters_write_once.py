"""Issue 28: every report is written once, whole, from the run's events; nothing re-reads a report it wrote.
The JSON and JUnit of a two-resolution run carry the drift verdicts the moment their files are first closed, and
hold what the writers of before (which patched the drift in afterwards) made of the same run:
tests/data/reports/drift-run.{json,xml}, written by that code from tests/support/drift_run.py."""

from __future__ import annotations

import builtins
import io
import json
import socket
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

import envforge
from envforge.registry import drift
from envforge.reporters.catalog import write_files
from envforge.reporters.stream import RunEnded
from envforge.version import __version__
from tests.support.drift_run import passes

DATA = Path(__file__).parent / "data" / "reports"
CHANGES = [{"uri": "models:/churn/2", "label": "churn/2", "before": "passed", "after": "failed"}]


def _written_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[tuple[str, str]], Path, Path]:
    """The run's end to the file reporters, every read of a report refused and each report's content taken as its file closes."""
    json_path, junit_path = tmp_path / "r.json", tmp_path / "r.xml"
    closed: list[tuple[str, str]] = []
    real_open, real_read, real_parse = builtins.open, Path.read_text, ET.parse

    def refuse_report(path: Any) -> None:
        assert Path(path).name not in ("r.json", "r.xml"), f"a reporter read back {path}"

    def watched_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "r" in mode and "+" not in mode:
            refuse_report(file)
        handle = real_open(file, mode, *args, **kwargs)
        if Path(str(file)).name in ("r.json", "r.xml") and ("w" in mode or "a" in mode):
            close = handle.close

            def close_and_look() -> None:
                close()
                with real_open(file, encoding="utf-8") as seen:
                    closed.append((Path(str(file)).name, seen.read()))
            handle.close = close_and_look
        return handle

    monkeypatch.setattr(builtins, "open", watched_open)
    monkeypatch.setattr(io, "open", watched_open)  # what Path.open and Path.write_text call
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: (refuse_report(self), real_read(self, *a, **k))[1])
    monkeypatch.setattr(ET, "parse", lambda source, *a, **k: (refuse_report(source), real_parse(source, *a, **k))[1])
    steps = passes()
    run = drift.merged(steps)
    write_files(RunEnded([r for _, r in run.results], run, steps, CHANGES, drift.verdicts(steps)), json_path, junit_path)
    monkeypatch.undo()
    return closed, json_path, junit_path


def test_json_and_junit_carry_the_drift_verdicts_when_first_closed_and_are_never_read_back(tmp_path: Path,
                                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    closed, json_path, junit_path = _written_once(tmp_path, monkeypatch)
    assert sorted(name for name, _ in closed) == ["r.json", "r.xml"]  # each file opened for writing once
    first = dict(closed)
    section = json.loads(first["r.json"])["registry"]
    assert [v["verdict"] for v in section["verdicts"]] == [drift.STILL_WORKS, drift.DRIFTED, drift.NEVER]
    assert [r["resolve"] for r in section["resolutions"]] == ["logged", "latest"] and section["changes"] == CHANGES
    suites = {s.get("name"): s for s in ET.fromstring(first["r.xml"].encode()).iter("testsuite")}
    assert suites["envforge.drift"].get("tests") == "3" and suites["envforge.drift"].get("failures") == "2"
    assert (first["r.json"], first["r.xml"]) == (json_path.read_text(), junit_path.read_text())  # nothing patched after


def test_the_reports_hold_what_the_patching_writers_made_of_the_same_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, json_path, junit_path = _written_once(tmp_path, monkeypatch)
    version = f'"envforge_version": "{__version__}"'
    assert json_path.read_text() == (DATA / "drift-run.json").read_text().replace('"envforge_version": "0.1.0"', version)
    junit = junit_path.read_text().replace(f'hostname="{socket.gethostname()}"', 'hostname="HOSTNAME"')
    assert junit == (DATA / "drift-run.xml").read_text().replace('value="0.1.0"', f'value="{__version__}"')


def test_no_module_patches_a_report_it_wrote() -> None:
    """What drift.add_to_reports did (parse the written JUnit, load the written JSON, write both again) is gone."""
    package = Path(envforge.__file__).parent
    for path in [*package.glob("reporters/*.py"), *package.glob("report/*.py"), *package.glob("registry/*.py")]:
        text = path.read_text()
        assert "ET.parse(" not in text, path
        assert not ("json.loads(" in text and ("json_path.read_text" in text or "path.read_text" in text)
                    and path.name != "run_reports.py"), path  # run_reports reads --previous: a report of an earlier run
    assert not hasattr(drift, "add_to_reports")
