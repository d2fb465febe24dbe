"""Inputs the flavor knows (issue 34): the runner's flavor_inputs.py and introspect.py on models made
and saved by real MLflow here, loaded back as pyfunc models and predicted on the rows they made.

These are the test's own models, so loading them in the test process is safe (never a corpus pickle).
The runner files are loaded as the runner loads them: by path, not as part of envforge.
"""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from envforge.runner import files, script_path


def _module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RUNNER = _module("run_model_for_flavor_inputs", script_path())
INTROSPECT = RUNNER.helpers()
FLAVORS = _module("flavor_inputs_under_test", files()["flavor_inputs.py"])
REQUEST = {"rows": 4, "seed": 7}


def _run(model):
    """What the runner does with an introspected example: ask, decode the payload it made, type it."""
    made = INTROSPECT.introspect(model, REQUEST)
    data, _ = RUNNER.decode_payload(made["payload"])
    assert INTROSPECT.introspect(model, REQUEST) == made  # deterministic: record and verify replay the same rows
    return made, INTROSPECT.typed(data, made["dtypes"])


# --- the rules, on what a model declares -------------------------------------------------------------

def test_onnx_element_types() -> None:
    assert [FLAVORS.onnx_dtype(t) for t in ("tensor(float)", "tensor(double)", "tensor(int64)", "tensor(string)",
                                            "tensor(bool)", "seq(tensor(float))", "map(int64,float)", None)] == [
        "float32", "float64", "int64", "str", "bool", None, None, None]


@pytest.mark.parametrize(("shape", "dims"), [
    ([None, 3], [4, 3]), ([-1, 3], [4, 3]), (["batch", 3], [4, 3]), ([2, "seq", None], [2, 1, 1]),
    (["N", -1, 8], [4, 1, 8]), ([], []), ([0, 3], [0, 3])])
def test_unknown_sizes_are_rows_first_then_one(shape: list, dims: list) -> None:
    assert FLAVORS.concrete(shape, 4) == dims


def test_no_unknown_leading_size_is_ever_zero_rows() -> None:
    assert FLAVORS.concrete([None, 3], 0) == [1, 3] and FLAVORS.concrete(["N"], -5) == [1]


def test_a_tensor_example_names_each_input_and_is_deterministic() -> None:
    specs = [("x", "float32", ["N", 3]), ("ids", "int64", [None]), ("mask", "bool", [2])]
    made = FLAVORS.tensor_example(specs, 4, random.Random(1), "the graph", ValueError)
    assert made["dtypes"] == {"x": "float32", "ids": "int64", "mask": "bool"}
    shapes = {k: np.asarray(v).shape for k, v in made["payload"]["inputs"].items()}
    assert shapes == {"x": (4, 3), "ids": (4,), "mask": (2,)}
    assert made == FLAVORS.tensor_example(specs, 4, random.Random(1), "the graph", ValueError)
    assert "x float32(4, 3)" in made["detail"]


def test_an_input_of_no_known_type_is_unknowable_with_its_name() -> None:
    with pytest.raises(ValueError, match="'seq_in'"):
        FLAVORS.tensor_example([("seq_in", None, [None])], 4, random.Random(1), "the graph", ValueError)


@pytest.mark.parametrize(("dates", "first", "freq"), [
    (pd.date_range("2024-01-01", periods=30, freq="D"), "2024-01-31T00:00:00", "D"),
    (pd.date_range("2024-01-01", periods=30, freq="h"), "2024-01-02T06:00:00", "h"),
    (pd.date_range("2020-01-01", periods=24, freq="MS"), "2022-01-01T00:00:00", "MS"),
])
def test_future_dates_follow_the_history_frequency(dates, first: str, freq: str) -> None:
    made, found = FLAVORS.future_dates(pd.Series(dates), 3)
    assert made[0] == first and len(made) == 3 and found.upper() == freq.upper()


def test_an_irregular_history_steps_by_its_median() -> None:
    dates = pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-04", "2024-01-06", "2024-01-08"])
    made, step = FLAVORS.future_dates(dates, 2)
    assert made == ["2024-01-10T00:00:00", "2024-01-12T00:00:00"] and "2 days" in step


# --- real models, saved by MLflow and loaded as pyfunc models -----------------------------------------

def _onnx_graph(path: Path) -> Path:
    """y = x @ w: an ONNX graph whose input has a symbolic batch size, saved with MLflow's onnx flavor."""
    import mlflow.onnx
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = numpy_helper.from_array(np.array([[1.0], [2.0], [3.0]], dtype=np.float32), name="w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["features", "w"], ["y"])], "tiny",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 1])], [weights])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    mlflow.onnx.save_model(model, str(path), pip_requirements=["onnx", "onnxruntime"])
    return path


def test_an_onnx_model_gives_its_graph_inputs(tmp_path: Path) -> None:
    import mlflow.pyfunc

    loaded = mlflow.pyfunc.load_model(str(_onnx_graph(tmp_path / "onnx")))
    made, arrays = _run(loaded)
    assert made["dtypes"] == {"features": "float32"} and "the ONNX graph's inputs" in made["detail"]
    assert arrays["features"].shape == (4, 3) and arrays["features"].dtype == np.float32
    prediction = loaded.predict(arrays)
    np.testing.assert_allclose(np.asarray(prediction["y"]).ravel(), arrays["features"] @ np.array([1.0, 2.0, 3.0]), rtol=1e-5)


def test_a_prophet_model_gets_future_dates_at_its_frequency(tmp_path: Path) -> None:
    import mlflow.prophet
    import mlflow.pyfunc
    from prophet import Prophet

    history = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=40, freq="W-MON"),
                            "y": np.sin(np.arange(40) / 4.0), "temp": np.cos(np.arange(40) / 3.0)})
    model = Prophet(yearly_seasonality=False, weekly_seasonality=False, daily_seasonality=False)
    model.add_regressor("temp")
    model.fit(history)
    mlflow.prophet.save_model(model, str(tmp_path / "prophet"), pip_requirements=["prophet"])
    loaded = mlflow.pyfunc.load_model(str(tmp_path / "prophet"))
    made, frame = _run(loaded)
    assert list(frame.columns) == ["ds", "temp"] and str(frame["ds"].dtype).startswith("datetime64")
    assert frame["ds"].iloc[0] == pd.Timestamp("2024-10-07") and "W-MON" in made["detail"]  # the week after the last
    forecast = loaded.predict(frame)
    assert len(forecast) == 4 and list(forecast["ds"]) == list(frame["ds"])


def test_an_sktime_forecaster_predicts_its_fitted_horizon(tmp_path: Path) -> None:
    import mlflow.pyfunc
    from sktime.forecasting.naive import NaiveForecaster
    from sktime.utils import mlflow_sktime

    series = pd.Series(np.arange(24.0), index=pd.period_range("2020-01", periods=24, freq="M"))
    forecaster = NaiveForecaster(strategy="last").fit(series, fh=[1, 2, 3])
    mlflow_sktime.save_model(forecaster, str(tmp_path / "sktime"), pip_requirements=["sktime"])
    loaded = mlflow.pyfunc.load_model(str(tmp_path / "sktime"))
    made, frame = _run(loaded)
    assert frame.empty and "[1, 2, 3]" in made["detail"]
    assert list(loaded.predict(frame)) == [23.0, 23.0, 23.0]


def test_an_sktime_forecaster_without_a_horizon_says_so(tmp_path: Path) -> None:
    from sktime.forecasting.naive import NaiveForecaster

    forecaster = NaiveForecaster().fit(pd.Series(np.arange(12.0)))
    with pytest.raises(INTROSPECT.Unknowable, match="without a forecasting horizon"):
        INTROSPECT.introspect(forecaster, REQUEST)


class Wrapper:
    """A PythonModel holding an estimator, as many teams log one (defined here: loading it is safe)."""


def test_a_pyfunc_wrapper_over_an_estimator_is_asked_through_its_attribute(tmp_path: Path) -> None:
    import mlflow.pyfunc
    from sklearn.linear_model import LinearRegression

    class Wrapped(mlflow.pyfunc.PythonModel):
        def __init__(self, estimator):
            self.estimator, self.threshold = estimator, 0.5

        def predict(self, context, model_input, params=None):
            return self.estimator.predict(model_input)

    estimator = LinearRegression().fit(np.arange(12.0).reshape(4, 3), [1.0, 2.0, 3.0, 4.0])
    mlflow.pyfunc.save_model(str(tmp_path / "wrapper"), python_model=Wrapped(estimator), pip_requirements=["scikit-learn"])
    loaded = mlflow.pyfunc.load_model(str(tmp_path / "wrapper"))
    made, array = _run(loaded)
    assert made["detail"].startswith("the pyfunc wrapper's attribute estimator, a LinearRegression: ")
    assert array.shape == (4, 3) and loaded.predict(array).shape == (4,)


def test_a_wrapper_holding_two_kinds_of_model_stays_unknowable() -> None:
    from sklearn.linear_model import LinearRegression
    from sklearn.preprocessing import StandardScaler

    holder = Wrapper()
    holder.scaler = StandardScaler().fit(np.arange(6.0).reshape(3, 2))
    holder.model = LinearRegression().fit(np.arange(6.0).reshape(3, 2), [1.0, 2.0, 3.0])
    with pytest.raises(INTROSPECT.Unknowable, match="whose inputs envforge cannot ask"):
        INTROSPECT.introspect(holder, REQUEST)


def test_a_keras3_model_with_two_inputs_gives_each_its_shape_and_dtype(tmp_path: Path) -> None:
    """Keras 3 (on JAX, on this CPU) has no single input_shape for two inputs: model.inputs tells each."""
    import os

    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras
    import mlflow.keras
    import mlflow.pyfunc

    width = keras.Input(shape=(3,), name="width")
    depth = keras.Input(shape=(2,), name="depth")
    joined = keras.layers.Concatenate()([width, depth])
    model = keras.Model([width, depth], keras.layers.Dense(1)(joined))
    mlflow.keras.save_model(model, str(tmp_path / "keras"), pip_requirements=["keras", "jax"])
    loaded = mlflow.pyfunc.load_model(str(tmp_path / "keras"))
    made, arrays = _run(loaded)
    assert made["dtypes"] == {"width": "float32", "depth": "float32"} and "the Keras model's inputs" in made["detail"]
    assert {k: v.shape for k, v in arrays.items()} == {"width": (4, 3), "depth": (4, 2)}
    assert np.asarray(loaded.predict(arrays)).shape == (4, 1)
