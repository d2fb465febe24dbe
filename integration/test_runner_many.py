"""The multi-model runner: several real pyfunc models in ONE process, a per-model timeout that
stops only the slow model, and the single-model request format still working."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from envforge.execution.executor import run_runner, run_runner_many
from tests.support.models import save_code_model

pytestmark = pytest.mark.slow

CODE = """
import time
import mlflow
from mlflow.pyfunc import PythonModel


class Model(PythonModel):
    def predict(self, context, model_input, params=None):
        if len(model_input) > 3:  # not while MLflow saves the model with its 3-row example
            time.sleep({sleep})
        return model_input["x"] * {factor}


mlflow.models.set_model(Model())
"""


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("many")
    return {name: save_code_model(root / name, CODE.format(sleep=sleep, factor=factor))
            for name, sleep, factor in (("double", 0, 2), ("slow", 60, 3), ("triple", 0, 3))}


def test_one_process_runs_every_model_and_a_timeout_stops_only_the_slow_one(models: dict[str, Path]) -> None:
    example = [{"name": "four", "payload": {"columns": ["x"], "data": [[1.0], [2.0], [3.0], [4.0]]}, "type": "dataframe"}]
    outputs = run_runner_many([sys.executable, "-I"], [(models[n], example) for n in ("double", "slow", "triple")],
                              model_timeout=8)
    double, slow, triple = outputs
    assert double.data["pid"] == slow.data["pid"] == triple.data["pid"]  # one runner process
    assert double.predictions()["four"]["data"] == [2.0, 4.0, 6.0, 8.0]
    assert triple.predictions()["four"]["data"] == [3.0, 6.0, 9.0, 12.0]
    assert slow.failures() and slow.failures()[0]["error"]["type"] == "ModelTimeout"
    assert 7 < slow.seconds < 30


def test_single_model_request_format_still_works(models: dict[str, Path]) -> None:
    output = run_runner([sys.executable, "-I"], models["double"], [{"name": "input_example"}], timeout=120)
    assert output.predictions()["input_example"]["data"] == [2.0, 4.0, 6.0]
    assert "models" not in output.data
