"""`pytest --envforge URI --envforge-registry GLOB --junitxml FILE` in a subprocess, as CI runs it, on a real iris
model logged by real MLflow: a model that reproduces passes, one with wrong expectations fails with a readable
diff (no traceback), one without expectations is skipped, a registered version comes from a real `mlflow server`,
and the JUnit file has one testcase per model and example. The envforge_verify fixture in a test of one's own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.support.cli import envforge
from tests.support.models import wrong_expectations
from tests.support.register import register_dir
from tests.test_pytest_plugin import plugin_args

pytestmark = pytest.mark.slow


def run_pytest(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ENVFORGE_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *plugin_args(), "-rA", *args],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=1500)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory, sklearn_model_template: Path) -> dict[str, Path]:
    """good: recorded; wrong: recorded, then one class label of the expectations changed; bare: no expectations."""
    root = tmp_path_factory.mktemp("plugin-models")
    home = root / "home"
    good = root / "good"
    shutil.copytree(sklearn_model_template, good)
    recorded = envforge("record", str(good), home=home)
    assert recorded.returncode == 0, recorded.output
    wrong = root / "wrong"
    _, stored = wrong_expectations(good, wrong, row=3, change=lambda label: (label + 1) % 3)  # still a class label
    bare = root / "bare"
    shutil.copytree(sklearn_model_template, bare)
    return {"good": good, "wrong": wrong, "bare": bare, "home": home, "expected": stored, "got": (stored + 2) % 3}


def test_plugin_runs_models_and_registry_with_junit(models: dict[str, Path], mlflow_server: str, tmp_path: Path) -> None:
    registered = register_dir(mlflow_server, "plugin-iris", models["good"])
    junit = tmp_path / "junit.xml"
    run = run_pytest("--envforge", str(models["good"]), "--envforge", str(models["wrong"]), "--envforge", str(models["bare"]),
                     "--envforge-registry", "plugin-iri*", "--envforge-tracking-uri", mlflow_server,
                     f"--junitxml={junit}", cwd=tmp_path, home=models["home"])
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    assert "1 failed, 2 passed, 1 skipped" in out, out
    # The failure is envforge's report, not a traceback of the plugin.
    assert f"envforge: {models['wrong']}, example 'input_example': the predictions differ from the recorded ones" in out
    assert f"[2]: expected {models['expected']}, got {models['got']}" not in out  # the sample is row 3, not 2
    assert f"[3]: expected {models['expected']}, got {models['got']}" in out, out
    assert "Traceback" not in out and "def runtest" not in out
    assert "--envforge-require-expected" in out  # the skip of the model without expectations says how to fail it

    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    cases = {(c.get("classname"), c.get("name")): c for c in suite.iter("testcase")}
    label = registered.removeprefix("models:/")
    assert set(cases) == {(f"envforge.{models[k]}", "input_example") for k in ("good", "wrong", "bare")} | {(f"envforge.{label}", "input_example")}
    failure = cases[(f"envforge.{models['wrong']}", "input_example")].find("failure")
    assert failure is not None and "the predictions differ" in (failure.get("message") or "")
    assert cases[(f"envforge.{models['bare']}", "input_example")].find("skipped") is not None
    registry_case = cases[(f"envforge.{label}", "input_example")]
    assert registry_case.find("failure") is None and registry_case.find("skipped") is None
    props = {p.get("name"): p.get("value") for p in registry_case.iter("property")}
    assert props["envforge.uri"] == registered and props["envforge.status"] == "passed" and props["envforge.env_key"]


def test_require_expected_fails_a_model_without_expectations(models: dict[str, Path], tmp_path: Path) -> None:
    run = run_pytest("--envforge", str(models["bare"]), "--envforge-require-expected", cwd=tmp_path, home=models["home"])
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 failed" in run.stdout and "no expectations" in run.stdout, run.stdout


def test_an_unresolvable_model_is_one_failed_item(tmp_path: Path, home: Path) -> None:
    (tmp_path / "test_theirs.py").write_text("def test_theirs():\n    pass\n")  # a project's own tests: -k envforge leaves them out
    run = run_pytest("--envforge", str(tmp_path / "missing"), "-k", "envforge", cwd=tmp_path, home=home)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 failed, 1 deselected" in run.stdout, run.stdout
    assert f"FAILED envforge::{tmp_path / 'missing'}::resolve" in run.stdout, run.stdout
    assert "could not be resolved" in run.stdout and "Traceback" not in run.stdout


def test_envforge_verify_fixture_in_a_test_of_ones_own(models: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "test_mine.py").write_text(
        "def test_good(envforge_verify):\n"
        f"    result = envforge_verify({str(models['good'])!r})\n"
        "    assert result.status == 'passed'\n"
        "def test_wrong(envforge_verify):\n"
        f"    envforge_verify({str(models['wrong'])!r}, rtol=0.0)\n"
        "def test_wrong_unchecked(envforge_verify):\n"
        f"    assert envforge_verify({str(models['wrong'])!r}, check=False).status == 'failed'\n")
    run = run_pytest("test_mine.py", cwd=tmp_path, home=models["home"])
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 failed, 2 passed" in run.stdout, run.stdout
    assert "FAILED test_mine.py::test_wrong" in run.stdout and "the predictions differ" in run.stdout
