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


GATED = """
import os
import time
import mlflow
from mlflow.pyfunc import PythonModel


class Model(PythonModel):
    def predict(self, context, model_input, params=None):
        if len(model_input) > 3:  # not while MLflow saves the model with its 3-row example
            deadline = time.time() + 60
            while not os.path.exists({gate!r}):
                if time.time() > deadline:
                    raise RuntimeError("the first model's output was not handed on while this one ran")
                time.sleep(0.1)
        return model_input["x"] * 5


mlflow.models.set_model(Model())
"""


def test_each_models_output_is_handed_on_while_the_runner_goes_on_with_the_next(
        models: dict[str, Path], tmp_path: Path) -> None:
    """The second model waits for a file that only the hand-on of the first model's output creates:
    were outputs handed on when the runner process ends (as before), it would raise after 60 s."""
    gate = tmp_path / "first-model-handed-on"
    gated = save_code_model(tmp_path / "gated", GATED.format(gate=str(gate)))
    example = [{"name": "four", "payload": {"columns": ["x"], "data": [[1.0], [2.0], [3.0], [4.0]]}, "type": "dataframe"}]
    handed: list[tuple[int, list[float]]] = []

    def on_output(i: int, output) -> None:
        handed.append((i, output.predictions()["four"]["data"]))
        if i == 0:
            gate.touch()

    outputs = run_runner_many([sys.executable, "-I"], [(models["double"], example), (gated, example)],
                              model_timeout=120, on_output=on_output)
    assert handed == [(0, [2.0, 4.0, 6.0, 8.0]), (1, [5.0, 10.0, 15.0, 20.0])]  # each once, in order
    assert [o.predictions()["four"]["data"] for o in outputs] == [h for _, h in handed]


def test_a_model_that_failed_is_handed_on_once_when_the_runner_ends(models: dict[str, Path]) -> None:
    example = [{"name": "four", "payload": {"columns": ["x"], "data": [[1.0], [2.0], [3.0], [4.0]]}, "type": "dataframe"}]
    handed: list[int] = []
    outputs = run_runner_many([sys.executable, "-I"], [(models["slow"], example), (models["triple"], example)],
                              model_timeout=3, on_output=lambda i, output: handed.append(i))
    assert handed == [1, 0]  # the good one while the runner ran, the timed-out one only at the end
    assert outputs[0].failures()[0]["error"]["type"] == "ModelTimeout"


def test_an_exception_in_the_hand_on_is_raised_once_the_runner_is_done(models: dict[str, Path]) -> None:
    """Not swallowed by the watch thread: the caller (verify-registry's group) sees it, as before the watch."""
    example = [{"name": "four", "payload": {"columns": ["x"], "data": [[1.0], [2.0], [3.0], [4.0]]}, "type": "dataframe"}]
    calls: list[int] = []

    def broken(i: int, output) -> None:
        calls.append(i)
        raise ValueError("a bug in the judge")

    with pytest.raises(ValueError, match="a bug in the judge"):
        run_runner_many([sys.executable, "-I"], [(models["double"], example), (models["triple"], example)],
                        model_timeout=60, on_output=broken)
    assert calls == [0]  # nothing handed on after the first exception


BIG = """
import mlflow
from mlflow.pyfunc import PythonModel


class Model(PythonModel):
    def predict(self, context, model_input, params=None):
        return list(model_input["x"]) * {repeat}


mlflow.models.set_model(Model())
"""


def test_each_model_answers_in_its_own_file_bounded_on_its_own(models: dict[str, Path], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """One answer file per model (written once, read once: the group's answer is not rewritten after each model), so
    a model whose answer is over envforge's JSON limit gets that as its own verdict and the models around it keep
    theirs (before, the group's one answer went over the limit and no model of the group could be judged)."""
    big = save_code_model(tmp_path / "big", BIG.format(repeat=4000))  # ~16,000 floats: far over a 60 KB limit
    monkeypatch.setenv("ENVFORGE_MAX_JSON_BYTES", "60000")
    example = [{"name": "four", "payload": {"columns": ["x"], "data": [[1.0], [2.0], [3.0], [4.0]]}, "type": "dataframe"}]
    double, large, triple = run_runner_many([sys.executable, "-I"], [(models["double"], example), (big, example),
                                                                     (models["triple"], example)], model_timeout=60)
    assert double.predictions()["four"]["data"] == [2.0, 4.0, 6.0, 8.0]
    assert triple.predictions()["four"]["data"] == [3.0, 6.0, 9.0, 12.0]
    error = large.load_error or {}
    assert "ENVFORGE_MAX_JSON_BYTES" in error.get("message", ""), large.data
    assert double.data["pid"] == triple.data["pid"]  # still one runner process
