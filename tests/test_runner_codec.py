"""The runner's input decoding and prediction encoding, run here with real pandas/numpy.

The runner script is executed inside rebuilt environments; its pure functions are imported
from its file for these tests (it never imports envforge, so this is the same code).
"""

from __future__ import annotations

import importlib.util
import json
import math

import numpy as np
import pandas as pd
import pytest

from envforge.runner import script_path

spec = importlib.util.spec_from_file_location("run_model", script_path())
run_model = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_model)


def roundtrip(value):
    return json.loads(json.dumps(run_model.encode(value)))


def test_dataframe_keeps_columns_dtypes_and_nan() -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": [0.5, float("nan")], "c": ["x", "y"]})
    out = roundtrip(frame)
    assert out["kind"] == "dataframe" and out["columns"] == ["a", "b", "c"]
    assert out["dtypes"][:2] == ["int64", "float64"]
    assert out["data"][0] == [1, 2] and math.isnan(out["data"][1][1]) and out["data"][2] == ["x", "y"]


def test_series_ndarray_list_dict_scalars() -> None:
    assert roundtrip(pd.Series([1.5, 2.5], name="p")) == {"kind": "series", "name": "p", "dtype": "float64", "data": [1.5, 2.5]}
    arr = roundtrip(np.arange(6, dtype=np.int32).reshape(2, 3))
    assert arr == {"kind": "ndarray", "dtype": "int32", "shape": [2, 3], "data": [[0, 1, 2], [3, 4, 5]]}
    assert roundtrip([1, "a"])["items"][1] == {"kind": "scalar", "dtype": "str", "value": "a"}
    assert roundtrip({"proba": np.array([0.1])})["items"]["proba"]["kind"] == "ndarray"
    assert roundtrip(np.float32(2.0)) == {"kind": "scalar", "dtype": "float", "value": 2.0}
    assert roundtrip(None) == {"kind": "scalar", "dtype": "none", "value": None}


def test_timestamps_become_iso_strings() -> None:
    out = roundtrip(pd.DataFrame({"t": pd.to_datetime(["2024-01-02"])}))
    assert out["data"][0][0].startswith("2024-01-02")


def test_unserializable_prediction_raises_type_error() -> None:
    with pytest.raises(TypeError, match="cannot be serialized"):
        run_model.encode(object())


@pytest.mark.parametrize("payload, kind, check", [
    ({"columns": ["a", "b"], "data": [[1, 2], [3, 4]]}, "dataframe", lambda d: list(d.columns) == ["a", "b"] and d.shape == (2, 2)),
    ({"data": [[1, 2]]}, "dataframe", lambda d: d.shape == (1, 2)),
    ({"dataframe_split": {"columns": ["a"], "data": [[1]]}}, None, lambda d: list(d.columns) == ["a"]),
    ({"dataframe_records": [{"a": 1}, {"a": 2}]}, None, lambda d: d["a"].tolist() == [1, 2]),
    ([[1, 2], [3, 4]], "ndarray", lambda d: isinstance(d, np.ndarray) and d.shape == (2, 2)),
    ({"inputs": [[1.0, 2.0]]}, None, lambda d: isinstance(d, np.ndarray) and d.shape == (1, 2)),
    ({"x": [1, 2], "y": [3, 4]}, "ndarray", lambda d: isinstance(d["x"], np.ndarray)),
    ({"question": "hi"}, "json_object", lambda d: d == {"question": "hi"}),
])
def test_every_example_encoding_decodes(payload, kind, check) -> None:
    data, params = run_model.decode_payload(payload, kind)
    assert check(data), data
    assert params is None


def test_inputs_with_params() -> None:
    data, params = run_model.decode_payload({"inputs": ["hello"], "params": {"temperature": 0.5}}, None)
    assert list(data) == ["hello"] and params == {"temperature": 0.5}
