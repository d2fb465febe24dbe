"""The CLI's edges on a real build (issue 14): the verdict first and then "wrote ...", reports that match the
shipped schema with a JUnit case per example, -m and --env-manager, -q."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from tests.support.cli import envforge

pytestmark = pytest.mark.slow


def test_verdict_first_then_the_files_written_and_reports_match_the_schema(sklearn_model: Path, home: Path, tmp_path: Path) -> None:
    assert envforge("record", str(sklearn_model), home=home).returncode == 0
    json_path, junit_path = tmp_path / "out" / "r.json", tmp_path / "out" / "r.xml"
    run = envforge("verify", "-m", str(sklearn_model), "--json", str(json_path), "--junit", str(junit_path), home=home)
    assert run.returncode == 0, run.output
    lines = run.stdout.strip().splitlines()
    assert lines[0].startswith(f"PASSED {sklearn_model}") and lines[-1] == f"wrote {json_path}, {junit_path}", run.stdout
    document = json.loads(json_path.read_text())
    jsonschema.validate(document, json.loads(resources.files("envforge.report").joinpath("schema.json").read_text()))
    result = document["results"][0]
    assert result["model"]["kind"] == "local" and result["started_at"] <= result["finished_at"]
    suite = ET.parse(junit_path).getroot().find("testsuite")
    assert suite is not None and [c.get("name") for c in suite.findall("testcase")] == [f"{sklearn_model} [input_example]"]

    quiet = envforge("verify", str(sklearn_model), "-q", "--env-manager", "uv", home=home)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.output  # no progress rows
    assert quiet.stdout.startswith(f"PASSED {sklearn_model}")
