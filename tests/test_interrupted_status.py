"""Issue 30, point 4: a model version Ctrl-C cut short is INTERRUPTED in every report, never FAILED or ERROR,
and a runner the stop killed (exit -9) is not the model's failure."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema

from envforge.registry import html, interruption
from envforge.registry import run_reports as report
from envforge.registry.run import RegistryRun
from envforge.registry.select import Target
from envforge.reporters.catalog import write_files
from envforge.reporters.stream import RunEnded
from envforge.result import FAILED, INTERRUPTED, PASSED, Step, VerifyResult

KILLED = "the model failed to load: RunnerError: the runner process exited with code -9"


def _killed_by_the_stop() -> VerifyResult:
    result = VerifyResult(uri="models:/ux-custom/1", backend="uv", steps=[Step("resolve", 0.1), Step("build", 2.0)])
    result.model_error = {"stage": "load", "message": KILLED}
    result.error = {"kind": "EnvBuildError", "message": KILLED, "remedy": ""}
    return result.finish(FAILED, KILLED)


def test_a_runner_killed_by_the_stop_is_interrupted_not_failed() -> None:
    result = interruption.settle(_killed_by_the_stop(), stopped=True)
    assert (result.status, result.exit_code, result.error["kind"]) == (INTERRUPTED, 130, "Interrupted")
    assert result.model_error is None and result.reason.startswith("interrupted")
    # without a stop the same failure is the model's
    assert interruption.settle(_killed_by_the_stop(), stopped=False).status == FAILED
    # a version that passed before the stop keeps its verdict
    passed = VerifyResult(uri="models:/a/1", backend="uv", steps=[Step("build", 1.0), Step("predict", 1.0)]).finish(PASSED, "ok")
    assert interruption.settle(passed, stopped=True).status == PASSED


def test_interrupted_is_interrupted_in_json_junit_html_and_summary(tmp_path: Path) -> None:
    run = RegistryRun(interrupted=True)
    run.results = [(Target(uri="models:/ux-custom/1", name="ux-custom", version="1"), interruption.settle(_killed_by_the_stop(), True)),
                   (Target(uri="models:/ux-custom/2", name="ux-custom", version="2"), interruption.new("models:/ux-custom/2", "uv"))]
    json_path, junit_path, html_path = tmp_path / "r.json", tmp_path / "r.xml", tmp_path / "r.html"
    write_files(RunEnded([r for _, r in run.results], run), json_path, junit_path)
    html.write_html(html_path, report.rows(run), run.summary(), [])

    document = json.loads(json_path.read_text())
    schema = json.loads((Path(report.__file__).parents[1] / "report" / "schema.json").read_text())
    jsonschema.validate(document, schema)
    assert [r["status"] for r in document["results"]] == [INTERRUPTED, INTERRUPTED]
    assert {r["error"]["kind"] for r in document["results"]} == {"Interrupted"}
    assert {r["exit_code"] for r in document["results"]} == {130}
    assert document["registry"]["summary"][INTERRUPTED] == 2
    cases = ET.parse(junit_path).getroot().findall(".//testcase")
    assert len(cases) == 2
    for case in cases:
        assert case.find("failure") is None and case.find("error") is None
        skipped = case.find("skipped")
        assert skipped is not None and skipped.get("type") == INTERRUPTED and skipped.get("message", "").startswith("INTERRUPTED")
    page = html_path.read_text()
    assert page.count("data-status='interrupted'") == 2 and "data-status='failed'" not in page
    assert "2 interrupted" in run.summary() and run.exit_code == 130
