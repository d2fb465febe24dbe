"""ci/envforge-ci.sh run as the GitHub Action and the GitLab template run it (inputs as ENVFORGE_* variables,
GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and a dotenv file set) with the real envforge on a real iris model:
a model that reproduces passes, wrong expectations fail, a model without expectations fails under
require-expected; each run leaves its exit code, outputs and a JUnit report."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.support.cli import envforge
from tests.support.models import wrong_expectations

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[1] / "ci" / "envforge-ci.sh"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, sklearn_model_template: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ci-models")
    home = root / "home"
    good = root / "good"
    shutil.copytree(sklearn_model_template, good)
    recorded = envforge("record", str(good), home=home)
    assert recorded.returncode == 0, recorded.output
    wrong = root / "wrong"
    wrong_expectations(good, wrong, row=1)
    bare = root / "bare"
    shutil.copytree(sklearn_model_template, bare)
    return {"home": home, "good": good, "wrong": wrong, "bare": bare}


def run_script(workdir: Path, home: Path, **inputs: str) -> tuple[subprocess.CompletedProcess[str], dict[str, str], dict[str, str]]:
    workdir.mkdir()
    files = {"GITHUB_OUTPUT": workdir / "github-output", "GITHUB_STEP_SUMMARY": workdir / "summary.md",
             "ENVFORGE_DOTENV": workdir / "envforge.env"}
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ENVFORGE_", "GITHUB_"))}
    env = {**clean, **{k: str(v) for k, v in files.items()}, "ENVFORGE_HOME": str(home), "COLUMNS": "200",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **inputs}  # `envforge` on PATH, as installed
    run = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, cwd=workdir, env=env, timeout=1200)

    def pairs(path: Path) -> dict[str, str]:
        return dict(line.split("=", 1) for line in path.read_text().splitlines()) if path.exists() else {}

    return run, pairs(files["GITHUB_OUTPUT"]), pairs(files["ENVFORGE_DOTENV"])


def test_a_model_that_reproduces_passes_with_outputs_and_junit(setup: dict[str, Path], tmp_path: Path) -> None:
    run, outputs, dotenv = run_script(tmp_path / "w", setup["home"], ENVFORGE_URI=str(setup["good"]),
                                      ENVFORGE_REQUIRE_EXPECTED="true", ENVFORGE_RTOL="1e-6", ENVFORGE_JUNIT="reports/envforge.xml")
    assert run.returncode == 0, run.stdout + run.stderr
    assert outputs == {"status": "passed", "exit-code": "0", "junit": "reports/envforge.xml", "json": "envforge-report.json"}
    assert dotenv["ENVFORGE_STATUS"] == "passed" and dotenv["ENVFORGE_EXIT_CODE"] == "0"
    suite = ET.parse(tmp_path / "w" / "reports" / "envforge.xml").getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("1", "0", "0")
    report = json.loads((tmp_path / "w" / "envforge-report.json").read_text())
    assert report["results"][0]["comparison"]["rtol"] == 1e-6  # the tolerance input reached envforge
    assert "**envforge**: passed" in (tmp_path / "w" / "summary.md").read_text()


def test_wrong_expectations_fail_with_exit_1_and_a_junit_failure(setup: dict[str, Path], tmp_path: Path) -> None:
    run, outputs, _ = run_script(tmp_path / "w", setup["home"], ENVFORGE_URI=str(setup["wrong"]))
    assert run.returncode == 1, run.stdout + run.stderr
    assert outputs["status"] == "failed" and outputs["exit-code"] == "1"
    suite = ET.parse(tmp_path / "w" / "envforge-report.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1"
    failure = suite.find("testcase/failure")
    assert failure is not None and "input_example" in (failure.text or "")


def test_require_expected_input_fails_a_model_without_expectations(setup: dict[str, Path], tmp_path: Path) -> None:
    lenient, outputs, _ = run_script(tmp_path / "a", setup["home"], ENVFORGE_URI=str(setup["bare"]))
    assert lenient.returncode == 0 and outputs["status"] == "unverified", lenient.stdout + lenient.stderr
    strict, outputs, _ = run_script(tmp_path / "b", setup["home"], ENVFORGE_URI=str(setup["bare"]), ENVFORGE_REQUIRE_EXPECTED="true")
    assert strict.returncode == 1 and (outputs["status"], outputs["exit-code"]) == ("unverified", "1"), strict.stdout + strict.stderr
