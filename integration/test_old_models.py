"""Old and odd models: one logged by MLflow 1.x on Python 3.8 (conda.yaml only), absolute paths in
MLmodel, an input_example.json that MLmodel does not declare, and no input example at all."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.support.cache import cached_dir, digest
from tests.support.cli import envforge, report
from tests.support.loggers import machine_python, missing

pytestmark = pytest.mark.slow

# What a user trained with in mid-2021: the last MLflow whose models name only conda.yaml (no
# python_env.yaml, no mlflow_version in MLmodel). Caps: MLflow 1.19 predates numpy 1.24, pandas 2,
# protobuf 4, SQLAlchemy 2 and setuptools without pkg_resources, and breaks with each of them.
MLFLOW1_PINS = ("mlflow==1.19.0", "scikit-learn==1.0.2", "numpy<1.24", "pandas<2", "protobuf<4", "sqlalchemy<2", "setuptools<70")
MLFLOW1_LOG = textwrap.dedent("""
    import sys
    import mlflow.sklearn
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, target = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=500).fit(features, target)
    mlflow.sklearn.save_model(model, sys.argv[1], input_example=features.iloc[[0, 50, 100, 70, 149, 83]])
""")


def _build_mlflow1_logger(path: Path) -> None:
    import uv

    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    for argv in ([uv.find_uv_bin(), "venv", "--quiet", "--python", machine_python("3.8").path, str(path / "venv")],
                 [uv.find_uv_bin(), "pip", "install", "--quiet", "--python", str(path / "venv" / "bin" / "python"), *MLFLOW1_PINS],
                 [str(path / "venv" / "bin" / "python"), "-c", MLFLOW1_LOG, str(path / "model")]):
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=1200)
        assert done.returncode == 0, f"{argv}: {done.stdout[-2000:]}{done.stderr[-3000:]}"


@pytest.fixture(scope="module")
def py38() -> str:
    """The X.Y.Z of this machine's newest CPython 3.8 (pyenv's, uv-managed or on PATH)."""
    found = machine_python("3.8")
    if found is None:
        pytest.skip(missing("3.8"))
    return found.version


@pytest.fixture(scope="module")
def mlflow1(py38: str) -> Path:
    """A uv-built venv of this machine's CPython 3.8 with MLflow 1.19, and the model it logged; cached per machine."""
    return cached_dir(f"mlflow1-py{py38}-{digest(*MLFLOW1_PINS, MLFLOW1_LOG)}", _build_mlflow1_logger)


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ENVFORGE_HOME for the iris variants below: they share requirements, so one env is built."""
    return tmp_path_factory.mktemp("old-models-home")


def _variant(template: Path, tmp_path: Path, edit) -> Path:
    model = Path(shutil.copytree(template, tmp_path / "model"))
    mlmodel = yaml.safe_load((model / "MLmodel").read_text())
    edit(model, mlmodel)
    (model / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    return model


def test_mlflow1_model_with_only_conda_yaml(mlflow1: Path, py38: str, tmp_path: Path, home: Path) -> None:
    model = Path(shutil.copytree(mlflow1 / "model", tmp_path / "model"))
    mlmodel = yaml.safe_load((model / "MLmodel").read_text())
    assert mlmodel["flavors"]["python_function"]["env"] == "conda.yaml" and "mlflow_version" not in mlmodel
    assert not (model / "python_env.yaml").exists()
    inspected = json.loads(envforge("inspect", str(model), "--json", home=home).stdout)
    assert inspected["python"] == f"{py38} (from conda.yaml)"
    assert inspected["requirements"][:2] == ["mlflow", "scikit-learn==1.0.2"]

    recorded = envforge("record", str(model), "--python", str(mlflow1 / "venv" / "bin" / "python"), home=home)
    assert recorded.returncode == 0, recorded.output
    expectations = json.loads((model / "envforge-expectations.json").read_text())
    assert expectations["python"] == py38 and expectations["mlflow_version"] == "1.19.0"
    assert sorted(set(expectations["examples"][0]["prediction"]["data"])) == [0, 1, 2]

    run = envforge("verify", str(model), "--json", str(tmp_path / "r.json"), home=home)
    assert run.returncode == 0, run.output
    result = report(tmp_path / "r.json")
    assert result["status"] == "passed" and result["env"]["python"] == py38
    state = json.loads((Path(result["env"]["path"]) / ".envforge-state.json").read_text())
    assert "scikit-learn==1.0.2" in state["installed"]  # the pin from conda.yaml's pip section


def test_absolute_artifact_paths_in_mlmodel_are_not_followed(sklearn_model_template: Path, tmp_path: Path, shared_home: Path) -> None:
    def edit(model: Path, mlmodel: dict) -> None:
        mlmodel["artifact_path"] = "/dbfs/databricks/mlflow-tracking/1234/abcd/artifacts/model"  # as MLflow writes for some stores

    model = _variant(sklearn_model_template, tmp_path, edit)
    assert envforge("record", str(model), home=shared_home).returncode == 0
    run = envforge("verify", str(model), "--json", str(tmp_path / "r.json"), home=shared_home)
    assert run.returncode == 0, run.output
    assert report(tmp_path / "r.json")["status"] == "passed"


def test_an_example_path_outside_the_model_is_refused(sklearn_model_template: Path, tmp_path: Path, shared_home: Path) -> None:
    (tmp_path / "elsewhere.json").write_text('{"columns": ["a"], "data": [[1]]}')

    def edit(model: Path, mlmodel: dict) -> None:
        mlmodel["saved_input_example_info"]["artifact_path"] = str(tmp_path / "elsewhere.json")

    model = _variant(sklearn_model_template, tmp_path, edit)
    run = envforge("verify", str(model), home=shared_home)
    assert run.returncode == 2, run.output
    assert "outside the model directory" in run.output and "Traceback" not in run.output


def test_input_example_json_without_saved_input_example_info(sklearn_model_template: Path, tmp_path: Path, shared_home: Path) -> None:
    def edit(model: Path, mlmodel: dict) -> None:
        del mlmodel["saved_input_example_info"]
        (model / "serving_input_example.json").unlink()

    model = _variant(sklearn_model_template, tmp_path, edit)
    inspected = json.loads(envforge("inspect", str(model), "--json", home=shared_home).stdout)
    assert inspected["input_examples"] == ["input_example: input_example.json from input_example.json (not declared in MLmodel)"]
    recorded = envforge("record", str(model), home=shared_home)
    assert recorded.returncode == 0, recorded.output
    run = envforge("verify", str(model), "--json", str(tmp_path / "r.json"), home=shared_home)
    assert run.returncode == 0, run.output
    result = report(tmp_path / "r.json")
    assert result["status"] == "passed" and [e["name"] for e in result["examples"]] == ["input_example"]


def test_no_input_example_at_all(sklearn_model_template: Path, tmp_path: Path, shared_home: Path) -> None:
    example = json.loads((sklearn_model_template / "input_example.json").read_text())

    def edit(model: Path, mlmodel: dict) -> None:
        del mlmodel["saved_input_example_info"]
        for name in ("input_example.json", "serving_input_example.json"):
            (model / name).unlink()

    model = _variant(sklearn_model_template, tmp_path, edit)
    text = envforge("inspect", str(model), home=shared_home)
    assert text.returncode == 0 and "input_examples: (none)" in text.stdout

    # The model keeps the signature MLflow inferred from its example: by default an input is synthesized from it
    synthesized = envforge("verify", str(model), "--json", str(tmp_path / "s.json"), home=shared_home)
    assert synthesized.returncode == 0, synthesized.output
    assert [e["source"] for e in report(tmp_path / "s.json")["examples"]] == ["signature"]

    run = envforge("verify", str(model), "--no-synthesize", "--json", str(tmp_path / "r.json"), home=shared_home)
    assert run.returncode == 0, run.output  # unverified is not a failure, unless asked
    result = report(tmp_path / "r.json")
    assert result["status"] == "unverified" and result["examples"] == []
    assert "no input example: nothing could be run (pass --input FILE)" in result["reason"]
    assert "nothing could be run" in run.stdout
    strict = envforge("verify", str(model), "--no-synthesize", "--require-expected", home=shared_home)
    assert strict.returncode == 1 and "nothing could be run" in strict.stdout

    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps(example))
    nothing = envforge("record", str(model), "--no-synthesize", home=shared_home)
    assert nothing.returncode == 2 and "has no input example, so there is nothing to record" in nothing.output, nothing.output
    assert "--input" in nothing.output and "Traceback" not in nothing.output  # the remedy, not a crash
    recorded = envforge("record", str(model), "--input", str(rows), home=shared_home)
    assert recorded.returncode == 0, recorded.output
    run = envforge("verify", str(model), "--json", str(tmp_path / "r2.json"), home=shared_home)
    assert run.returncode == 0, run.output
    result = report(tmp_path / "r2.json")
    assert result["status"] == "passed" and [e["name"] for e in result["examples"]] == ["rows"]
    inspected = json.loads(envforge("inspect", str(model), "--json", home=shared_home).stdout)
    assert ("1 example(s) (rows) recorded with Python "
            f"{result['env']['python']} at {json.loads((model / 'envforge-expectations.json').read_text())['recorded_at']}"
            " in the training environment") in inspected["expectations"]
