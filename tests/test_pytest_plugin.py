"""The pytest plugin's wording (envforge/pytest_plugin/explain.py) from real comparisons, and that the plugin is
declared as a pytest11 entry point and stays inert (no mlflow import, no items) in runs without --envforge."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from envforge.compare import compare
from envforge.pytest_plugin import explain
from envforge.result import ERROR, FAILED, PASSED, UNVERIFIED, VerifyResult

ROOT = Path(__file__).resolve().parents[1]


def frame(score: list[float], label: list[int]) -> dict:
    return {"kind": "dataframe", "columns": ["score", "label"], "dtypes": ["float64", "int64"], "data": [score, label]}


def failed_result() -> VerifyResult:
    comparison = compare({"input_example": frame([0.5, 1.5, 2.5], [0, 1, 2]), "second": frame([1.0], [1])},
                         {"input_example": frame([0.5, 1.75, 2.5], [0, 1, 2]), "second": frame([1.0], [1])})
    result = VerifyResult(uri="models:/fraud/3", backend="uv", comparison=comparison, python_version="3.11.7",
                          env_path="/envs/abc", env_reused=True, expectations="/m/envforge-expectations.json")
    return result.finish(FAILED, comparison.summary())


def test_a_differing_example_fails_naming_model_example_column_row_expected_and_got() -> None:
    verdict = explain.for_example(failed_result(), "input_example")
    assert verdict.outcome == explain.FAIL
    first, *rest = verdict.text.splitlines()
    assert first.startswith("envforge: models:/fraud/3, example 'input_example': the predictions differ")
    assert "rtol=1e-05" in first
    assert any("column 'score'" in line and "[value]" in line for line in rest), verdict.text
    assert any(line.strip() == "row 1: expected 1.5, got 1.75" for line in rest), verdict.text
    assert "env: uv, python 3.11.7, reused at /envs/abc" in verdict.text
    assert "column 'label'" not in verdict.text  # only what differs


def test_the_matching_example_of_a_failed_model_passes() -> None:
    assert explain.for_example(failed_result(), "second") == explain.Verdict(explain.PASS)


def test_unverified_skips_and_names_the_flag_error_fails_with_the_remedy() -> None:
    unverified = VerifyResult(uri="/m", backend="uv").finish(UNVERIFIED, "no expectations recorded")
    verdict = explain.for_example(unverified, "input_example")
    assert verdict.outcome == explain.SKIP and "--envforge-require-expected" in verdict.text
    required = VerifyResult(uri="/m", backend="uv").finish(UNVERIFIED, "no expectations recorded", 1)
    assert explain.for_example(required, "input_example").outcome == explain.FAIL
    broken = VerifyResult(uri="/m", backend="uv", error={"kind": "EnvBuildError", "message": "uv could not resolve numpy==0.1",
                                                         "remedy": "Pin a numpy that exists."}).finish(ERROR, "env failed", 3)
    verdict = explain.for_example(broken, "input_example")
    assert verdict.outcome == explain.FAIL
    assert "ERROR: env failed" in verdict.text and "fix: Pin a numpy that exists." in verdict.text


def test_a_passed_model_passes_and_reports_its_properties() -> None:
    result = VerifyResult(uri="/m", backend="uv", env_key="k1").finish(PASSED, "all match")
    assert explain.for_example(result, "anything").outcome == explain.PASS
    assert ("envforge.status", "passed") in explain.properties(result) and ("envforge.env_key", "k1") in explain.properties(result)


def test_pyproject_declares_the_pytest11_entry_point() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["pytest11"] == {"envforge": "envforge.pytest_plugin"}


def plugin_args() -> list[str]:
    """`-p envforge.pytest_plugin` unless the installed envforge already registers it (an editable install made before
    the entry point existed does not): loading it twice is an error."""
    installed = [ep for ep in metadata.entry_points(group="pytest11") if ep.name == "envforge"]
    return [] if installed else ["-p", "envforge.pytest_plugin"]


def test_without_envforge_options_the_plugin_adds_nothing_and_imports_no_mlflow(tmp_path: Path) -> None:
    (tmp_path / "test_one.py").write_text(
        "import sys\n"
        "def test_one(pytestconfig):\n"
        "    assert pytestconfig.pluginmanager.hasplugin('envforge') or pytestconfig.pluginmanager.hasplugin('envforge.pytest_plugin')\n"
        "    assert not [m for m in sys.modules if m == 'mlflow' or m.startswith('mlflow.')]\n"
        "    assert 'envforge.pytest_plugin.nodes' not in sys.modules\n")
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *plugin_args(), "-q", str(tmp_path)],
                         capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout


def test_help_lists_the_options() -> None:
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *plugin_args(), "--help"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    for option in ("--envforge=URI", "--envforge-registry=GLOB", "--envforge-backend", "--envforge-tracking-uri",
                   "--envforge-require-expected"):
        assert option in run.stdout, option
