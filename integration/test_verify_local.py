"""verify and record on local model directories, with real uv builds."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.support.cli import envforge, report
from tests.support.oracle import assert_same_as_truth

pytestmark = pytest.mark.slow


def test_record_then_verify_passes_with_reports(sklearn_model: Path, sklearn_truth, home: Path, tmp_path: Path) -> None:
    recorded = envforge("record", str(sklearn_model), home=home)
    assert recorded.returncode == 0, recorded.output
    expectations = json.loads((sklearn_model / "envforge-expectations.json").read_text())
    assert expectations["examples"][0]["name"] == "input_example"
    assert expectations["examples"][0]["prediction"]["kind"] == "ndarray"
    assert any(p["name"].lower() == "scikit-learn" for p in expectations["freeze"])

    run = envforge("verify", str(sklearn_model), "--json", str(tmp_path / "r.json"), "--junit", str(tmp_path / "r.xml"), home=home)
    assert run.returncode == 0, run.output
    assert "PASSED" in run.stdout
    data = report(tmp_path / "r.json")
    assert data["status"] == "passed"
    assert data["env"]["python"] == expectations["python"]
    assert_same_as_truth(data, sklearn_truth)  # an oracle independent of the runner: the test's own model.predict
    assert [s["name"] for s in data["steps"]] == ["resolve", "build", "predict", "compare"]
    suite = ET.parse(tmp_path / "r.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "1" and suite.get("failures") == "0"


def test_without_expectations_is_unverified_not_passed(sklearn_model: Path, home: Path, tmp_path: Path) -> None:
    run = envforge("verify", str(sklearn_model), "--json", str(tmp_path / "r.json"), home=home)
    assert run.returncode == 0, run.output
    assert report(tmp_path / "r.json")["status"] == "unverified"
    strict = envforge("verify", str(sklearn_model), "--require-expected", home=home)
    assert strict.returncode == 1, strict.output
    assert "no expectations" in strict.stdout


def test_edited_expectations_fail_naming_example_and_column(sklearn_model: Path, home: Path, tmp_path: Path) -> None:
    assert envforge("record", str(sklearn_model), home=home).returncode == 0
    path = sklearn_model / "envforge-expectations.json"
    data = json.loads(path.read_text())
    prediction = data["examples"][0]["prediction"]
    prediction["data"][2] = prediction["data"][2] + 1  # one class label changes
    path.write_text(json.dumps(data))
    run = envforge("verify", str(sklearn_model), "--json", str(tmp_path / "r.json"), home=home)
    assert run.returncode == 1, run.output
    assert "input_example" in run.stdout
    result = report(tmp_path / "r.json")
    assert result["status"] == "failed"
    diff = result["comparison"]["examples"][0]["diffs"][0]
    assert diff["kind"] == "value" and diff["mismatched"] == 1 and diff["samples"][0]["index"] == "[2]"


def test_changed_value_reports_column_diff(sklearn_model: Path, home: Path, tmp_path: Path) -> None:
    """A recorded DataFrame prediction edited in one column: the diff names example and column."""
    from tests.support.models import save_code_model

    model = save_code_model(tmp_path / "frame", """
        import mlflow.pyfunc, pandas as pd
        class M(mlflow.pyfunc.PythonModel):
            def predict(self, context, model_input, params=None):
                return pd.DataFrame({"score": model_input["x"] * 2.5, "label": model_input["x"].astype(int)})
        mlflow.models.set_model(M())
    """)
    assert envforge("record", str(model), home=home).returncode == 0
    path = model / "envforge-expectations.json"
    data = json.loads(path.read_text())
    frame = data["examples"][0]["prediction"]
    frame["data"][frame["columns"].index("score")][1] += 0.75
    path.write_text(json.dumps(data))
    run = envforge("verify", str(model), "--json", str(tmp_path / "r.json"), home=home)
    assert run.returncode == 1, run.output
    assert "score" in run.stdout and "input_example" in run.stdout
    diff = report(tmp_path / "r.json")["comparison"]["examples"][0]["diffs"][0]
    assert "score" in diff["location"] and diff["kind"] == "value"
    assert diff["max_abs"] == pytest.approx(0.75)


def test_model_that_raises_fails_with_its_own_message(tmp_path: Path, home: Path) -> None:
    from tests.support.models import save_code_model

    model = save_code_model(tmp_path / "raiser", """
        import mlflow.pyfunc
        class M(mlflow.pyfunc.PythonModel):
            def predict(self, context, model_input, params=None):
                if len(model_input) == 3:
                    raise ValueError("the fraud threshold table is empty")
                return model_input
        mlflow.models.set_model(M())
    """)
    run = envforge("verify", str(model), "--json", str(tmp_path / "r.json"), home=home)
    assert run.returncode == 1, run.output
    assert "the fraud threshold table is empty" in run.stdout
    assert "Traceback" not in run.stderr
    error = report(tmp_path / "r.json")["model_error"]
    assert error["type"] == "ValueError" and error["stage"] == "predict"
    assert "raise ValueError" in error["traceback"]


def test_env_is_reused_and_a_changed_code_wheel_gives_a_new_env(tmp_path: Path, home: Path) -> None:
    from tests.support.models import make_wheel, save_code_model

    wheel = make_wheel(tmp_path / "dist", "ef_scale", "1.0", "FACTOR = 2\n")
    model = save_code_model(tmp_path / "scaled", """
        import mlflow.pyfunc
        class M(mlflow.pyfunc.PythonModel):
            def predict(self, context, model_input, params=None):
                import ef_scale
                return model_input["x"] * ef_scale.FACTOR
        mlflow.models.set_model(M())
    """, code_paths=[str(wheel)])
    first = envforge("verify", str(model), "--json", str(tmp_path / "1.json"), home=home)
    second = envforge("verify", str(model), "--json", str(tmp_path / "2.json"), home=home)
    assert first.returncode == 0 and second.returncode == 0, first.output + second.output
    one, two = report(tmp_path / "1.json"), report(tmp_path / "2.json")
    assert one["env"]["reused"] is False and two["env"]["reused"] is True
    assert one["env"]["key"] == two["env"]["key"]

    code_wheel = next((model / "code").glob("*.whl"))
    new_wheel = make_wheel(tmp_path / "dist2", "ef_scale", "1.0", "FACTOR = 3\n")
    shutil.copyfile(new_wheel, code_wheel)
    third = envforge("verify", str(model), "--json", str(tmp_path / "3.json"), home=home)
    assert third.returncode == 0, third.output
    three = report(tmp_path / "3.json")
    assert three["env"]["key"] != one["env"]["key"] and three["env"]["reused"] is False


def test_interrupted_build_is_not_reused(sklearn_model: Path, home: Path, tmp_path: Path) -> None:
    """A directory without the state marker (a build killed midway) is wiped and rebuilt."""
    from envforge.building.cached_envs import env_dir
    from envforge.pipeline import load_model

    first = envforge("verify", str(sklearn_model), "--json", str(tmp_path / "1.json"), home=home)
    assert first.returncode == 0, first.output
    env_path = Path(report(tmp_path / "1.json")["env"]["path"])
    (env_path / ".envforge-state.json").unlink()  # what a SIGKILL before the marker leaves behind
    (env_path / "bin" / "python").unlink()
    second = envforge("verify", str(sklearn_model), "--json", str(tmp_path / "2.json"), home=home)
    assert second.returncode == 0, second.output
    assert report(tmp_path / "2.json")["env"]["reused"] is False
    assert (env_path / ".envforge-state.json").is_file()
    import os

    os.environ["ENVFORGE_HOME"] = str(home)
    try:
        assert env_dir(load_model(str(sklearn_model)).spec) == env_path  # the spec verify builds (as of when it was logged)
    finally:
        del os.environ["ENVFORGE_HOME"]


def test_python_api_returns_a_result(sklearn_model: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import envforge

    monkeypatch.setenv("ENVFORGE_HOME", str(home))
    recorded = envforge.record(str(sklearn_model))
    assert recorded.examples == ("input_example",)
    result = envforge.verify(str(sklearn_model), backend="uv")
    assert result.status == "passed" and result.exit_code == 0
    assert result.comparison is not None and result.comparison.ok
    assert result.python_version == recorded.python


def test_expected_file_and_tolerances_from_the_command_line(sklearn_model: Path, home: Path, tmp_path: Path) -> None:
    """--expected points at a file elsewhere; a float within --atol passes, beyond it fails."""
    from tests.support.models import save_code_model

    model = save_code_model(tmp_path / "floats", """
        import mlflow.pyfunc
        class M(mlflow.pyfunc.PythonModel):
            def predict(self, context, model_input, params=None):
                return model_input["x"] / 3.0
        mlflow.models.set_model(M())
    """)
    assert envforge("record", str(model), home=home).returncode == 0
    moved = tmp_path / "elsewhere.json"
    (model / "envforge-expectations.json").rename(moved)
    data = json.loads(moved.read_text())
    data["examples"][0]["prediction"]["data"][0] += 1e-4
    moved.write_text(json.dumps(data))
    loose = envforge("verify", str(model), "--expected", str(moved), "--atol", "1e-3", "--rtol", "0", home=home)
    assert loose.returncode == 0, loose.output
    strict = envforge("verify", str(model), "--expected", str(moved), "--atol", "1e-6", "--rtol", "0", home=home)
    assert strict.returncode == 1, strict.output
    assert "input_example" in strict.stdout
