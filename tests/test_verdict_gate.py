"""--fail-on (report/gate.py), the lines every report adds (report/verdict_lines.py) and the runner's warning
catcher (runner/warning_catch.py, run here in a real child Python as the runner runs it)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from rich.console import Console

from envforge.cli import build_parser
from envforge.errors import EXIT_DRIFT, EXIT_FAILED, EXIT_WARNINGS, UsageError
from envforge.registry.html import render
from envforge.report import gate, verdict_lines
from envforge.report.console import print_result
from envforge.report.json_report import write_json
from envforge.report.junit import write_junit
from envforge.result import FAILED, PASSED, UNVERIFIED, VerifyResult
from envforge.runner import files

DRIFT = {"count": 1, "summary": "1 package(s) differ from the training environment: scikit-learn 1.9.1 → 1.4.2",
         "packages": [{"name": "scikit-learn", "recorded": "1.9.1", "installed": "1.4.2", "status": "changed", "requested": "==1.4.2"}]}
WARNING = "InconsistentVersionWarning: Trying to unpickle estimator LogisticRegression from version 1.9.1 when using version 1.4.2."


def _passed(drift: dict | None = None, warnings: list[str] | None = None) -> VerifyResult:
    result = VerifyResult(uri="models:/iris/1", backend="uv", drift=drift, model_warnings=list(warnings or []))
    return result.finish(PASSED, "1 example(s) match the recorded predictions")


def test_fail_on_is_parsed_and_an_unknown_word_names_the_choices() -> None:
    assert gate.parse_fail_on("drift, warnings,drift") == ("drift", "warnings")
    assert gate.parse_fail_on("") == () and gate.parse_fail_on(None) == ()
    with pytest.raises(UsageError, match="unknown 'warn'") as bad:
        gate.parse_fail_on("warn")
    assert "Choose from drift, warnings" in bad.value.remedy
    assert build_parser().parse_args(["verify", "m", "--fail-on", "warnings", "--check"]).fail_on == ("warnings",)
    assert build_parser().parse_args(["verify-registry", "--fail-on", "drift"]).fail_on == ("drift",)


def test_drift_and_warnings_fail_a_passing_verdict_only_when_asked() -> None:
    assert gate.apply(_passed(DRIFT, [WARNING]), ()).exit_code == 0
    drifted = gate.apply(_passed(DRIFT, [WARNING]), ("drift", "warnings"))
    assert (drifted.status, drifted.exit_code) == (FAILED, EXIT_DRIFT) and "scikit-learn 1.9.1 → 1.4.2" in drifted.reason
    warned = gate.apply(_passed(DRIFT, [WARNING, "other"]), ("warnings",))
    assert (warned.status, warned.exit_code) == (FAILED, EXIT_WARNINGS)
    assert WARNING in warned.reason and "(+1 more)" in warned.reason and "match the recorded predictions" in warned.reason
    clean = gate.apply(_passed({"count": 0, "summary": "none", "packages": []}, []), ("drift", "warnings"))
    assert (clean.status, clean.exit_code) == (PASSED, 0)
    unverified = VerifyResult(uri="m", backend="uv", model_warnings=[WARNING]).finish(UNVERIFIED, "no expectations")
    assert gate.apply(unverified, ("warnings",)).exit_code == EXIT_WARNINGS


def test_a_verdict_that_failed_keeps_its_own_reason_and_code() -> None:
    failed = VerifyResult(uri="m", backend="uv", drift=DRIFT, model_warnings=[WARNING]).finish(FAILED, "predictions differ")
    assert gate.apply(failed, ("drift", "warnings")).reason == "predictions differ" and failed.exit_code == EXIT_FAILED


def test_a_registry_run_exits_with_the_gate_code_only_when_every_failure_is_that_gate() -> None:
    assert gate.run_exit_code([0, 0]) == 0
    assert gate.run_exit_code([0, EXIT_WARNINGS, EXIT_WARNINGS]) == EXIT_WARNINGS
    assert gate.run_exit_code([EXIT_DRIFT, EXIT_WARNINGS]) == 1 and gate.run_exit_code([EXIT_DRIFT, 3]) == 1


def test_every_report_shows_the_rebuilt_env_the_drift_and_the_warnings(tmp_path: Path) -> None:
    result = _passed(DRIFT, [WARNING])
    result.env_rebuilt_because = "the cached environment differs from what its build installed: 1 file(s) missing (x.py)"
    out = io.StringIO()
    print_result(Console(file=out, width=400), result)
    text = out.getvalue()
    for line in verdict_lines.extra_lines(result):
        assert line in text
    assert "drift: 1 package(s) differ" in text and f"model warning: {WARNING}" in text and "env rebuilt: " in text
    write_json([result], tmp_path / "r.json")
    doc = json.loads((tmp_path / "r.json").read_text())["results"][0]
    assert doc["drift"]["packages"][0]["installed"] == "1.4.2" and doc["model_warnings"] == [WARNING]
    assert doc["env"]["rebuilt_because"].endswith("(x.py)")
    write_junit([result], tmp_path / "r.xml")
    case = ET.parse(tmp_path / "r.xml").getroot().find(".//testcase")
    assert case is not None
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["drift.count"] == "1" and props["model_warnings"] == WARNING and props["model_warnings.count"] == "1"
    assert f"model warning: {WARNING}" in (case.findtext("system-out") or "")
    page = render([{"uri": "models:/iris/1", "label": "iris/1", "model": "iris", "version": "1", "aliases": [], "backend": "uv",
                    "status": "passed", "reason": "ok", "build_seconds": 0.0, "predict_seconds": 0.0, "worst_diff": 0.0,
                    "notes": verdict_lines.extra_lines(result)}], "1 passed", [])
    assert "scikit-learn 1.9.1 → 1.4.2" in page and "InconsistentVersionWarning" in page


CATCH = """
import importlib.util, json, logging, sys, warnings
spec = importlib.util.spec_from_file_location("catch", sys.argv[1])
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
catcher = module.Catcher().start()
class InconsistentVersionWarning(UserWarning):
    pass
for _ in range(3):
    warnings.warn("Trying to unpickle estimator Pipeline from version 1.9.1", InconsistentVersionWarning)
logging.getLogger("mlflow.pyfunc").warning("requirements mismatch: %s", "scikit-learn")
logging.getLogger("mlflow.utils").info("not a warning")
for i in range(30):
    warnings.warn("w%d " % i + "x" * 400, UserWarning)
lines = catcher.stop()
warnings.warn("after stop", UserWarning)
print(json.dumps(lines))
"""


def test_the_runner_catches_python_and_log_warnings_deduplicated_and_capped(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-I", "-c", CATCH, str(files()["warning_catch.py"])], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    lines = json.loads(proc.stdout)
    assert lines[0] == "InconsistentVersionWarning: Trying to unpickle estimator Pipeline from version 1.9.1"
    assert lines[1] == "mlflow.pyfunc WARNING: requirements mismatch: scikit-learn"
    assert len(lines) == 21 and lines[-1] == "(12 more warning(s) not shown)"
    assert all(len(line) <= 300 for line in lines) and not any("not a warning" in line or "after stop" in line for line in lines)
    assert "InconsistentVersionWarning" in proc.stderr  # still printed where it was printed before


def test_the_pytest_plugin_fails_every_example_of_a_gated_verdict_and_shows_drift_and_warnings() -> None:
    from envforge.pytest_plugin import explain

    passed = _passed(DRIFT, [WARNING])
    assert explain.for_example(passed, "input_example").outcome == explain.PASS
    props = dict(explain.properties(passed))
    assert props["envforge.drift.count"] == "1" and props["envforge.model_warnings"] == WARNING
    gated = gate.apply(_passed(DRIFT, [WARNING]), ("warnings",))
    verdict = explain.for_example(gated, "input_example")
    assert verdict.outcome == explain.FAIL and "--fail-on warnings" in verdict.text
    assert f"model warning: {WARNING}" in verdict.text and "drift: 1 package(s) differ" in verdict.text


def test_verify_registry_shows_the_drift_and_warnings_in_its_console_json_junit_and_html(tmp_path: Path) -> None:
    """The registry's own surfaces: each version's console line (cli/registry_commands.py), its JSON and JUnit
    (reporters/json_file.py, junit_file.py over the verify writers) and the HTML table's row, from the run as verify-registry keeps it."""
    from envforge.registry import run_reports as report
    from envforge.registry.run import RegistryRun
    from envforge.registry.select import Target
    from envforge.reporters.catalog import write_files
    from envforge.reporters.stream import RunEnded
    from envforge.reporters.terminal import show_result

    result = _passed(DRIFT, [WARNING])
    result.env_rebuilt_because = "the cached environment differs from what its build installed: 1 file(s) missing (x.py)"
    run = RegistryRun(results=[(Target("models:/iris/1", "iris", "1"), result)])
    out = io.StringIO()
    show_result(Console(file=out, width=400), "iris/1", result)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("PASSED") and "iris/1: 1 example(s) match" in lines[0]
    assert [line.strip() for line in lines[1:]] == verdict_lines.extra_lines(result)
    assert "drift: 1 package(s) differ" in lines[2] and lines[3].strip() == f"model warning: {WARNING}"
    write_files(RunEnded([r for _, r in run.results], run), tmp_path / "r.json", tmp_path / "r.xml")
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["results"][0]["drift"] == DRIFT and doc["results"][0]["model_warnings"] == [WARNING]
    props = {p.get("name"): p.get("value") for p in ET.parse(tmp_path / "r.xml").getroot().iter("property")}
    assert props["drift.count"] == "1" and props["model_warnings"] == WARNING
    page = render(report.rows(run), "1 passed", [])
    assert "scikit-learn 1.9.1 → 1.4.2" in page and "InconsistentVersionWarning" in page and "env rebuilt: " in page
