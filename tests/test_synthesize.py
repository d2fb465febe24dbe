"""The signature synthesizer: signatures written by real MLflow, decoded by the real runner code,
checked with MLflow's own schema enforcement (what pyfunc's predict() does to an input)."""

from __future__ import annotations

import base64
import datetime
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from mlflow.models import Model
from mlflow.models.signature import ModelSignature
from mlflow.models.utils import _enforce_schema
from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema, TensorSpec

from envforge.modeldir import synthesize
from envforge.runner import script_path

TYPES = ["boolean", "integer", "long", "float", "double", "string", "binary", "datetime"]


def _runner():
    spec = importlib.util.spec_from_file_location("run_model_for_synthesis", script_path())
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RUNNER = _runner()


def _parsed(signature: ModelSignature, tmp_path: Path) -> dict:
    """The signature as MLflow writes it into MLmodel, read back by envforge."""
    model_dir = tmp_path / "model"
    model_dir.mkdir(exist_ok=True)
    Model(signature=signature).save(str(model_dir / "MLmodel"))
    parsed = synthesize.read_signature(model_dir)
    assert parsed is not None
    return parsed


def _decoded(example: dict):
    data, params = RUNNER.decode_payload(example["payload"])
    return RUNNER.helpers().typed(data, example["dtypes"]), params


def test_every_column_type_gets_values_mlflow_accepts(tmp_path: Path) -> None:
    signature = ModelSignature(inputs=Schema([ColSpec(t, f"c_{t}") for t in TYPES]))
    example = synthesize.from_signature(_parsed(signature, tmp_path))
    assert example["source"] == "signature" and example["name"] == synthesize.NAME
    split = example["payload"]["dataframe_split"]
    assert split["columns"] == [f"c_{t}" for t in TYPES] and len(split["data"]) == synthesize.ROWS
    assert example["dtypes"] == ["bool", "int32", "int64", "float32", "float64", "str", "bytes", "datetime64[ns]"]
    row = split["data"][0]
    assert isinstance(row[0], bool) and isinstance(row[1], int) and isinstance(row[4], float) and isinstance(row[5], str)
    assert len(base64.b64decode(row[6])) == 8 and datetime.datetime.fromisoformat(row[7]).year == 2024
    json.dumps(example)  # the example is stored in expectations files: plain JSON
    frame, params = _decoded(example)
    assert params is None
    assert [str(t) for t in frame.dtypes] == ["bool", "int32", "int64", "float32", "float64", "object", "object", "datetime64[ns]"]
    assert isinstance(frame["c_binary"][0], bytes) and isinstance(frame["c_string"][0], str)
    enforced = _enforce_schema(frame, signature.inputs)  # raises when a type does not match
    assert list(enforced.columns) == [f"c_{t}" for t in TYPES]


def test_optional_columns_are_filled_and_said_so(tmp_path: Path) -> None:
    signature = ModelSignature(inputs=Schema([ColSpec("double", "x"), ColSpec("string", "maybe", required=False)]))
    parsed = _parsed(signature, tmp_path)
    assert parsed["inputs"][1]["required"] is False
    example = synthesize.from_signature(parsed)
    assert example["payload"]["dataframe_split"]["columns"] == ["x", "maybe"]
    assert "1 optional, filled too" in example["detail"]
    _enforce_schema(_decoded(example)[0], signature.inputs)


def test_unnamed_columns_are_positional(tmp_path: Path) -> None:
    signature = ModelSignature(inputs=Schema([ColSpec("double"), ColSpec("long")]))
    example = synthesize.from_signature(_parsed(signature, tmp_path))
    assert "columns" not in example["payload"]["dataframe_split"] and "unnamed" in example["detail"]
    frame, _ = _decoded(example)
    assert frame.shape == (synthesize.ROWS, 2) and str(frame.dtypes.iloc[1]) == "int64"


def test_a_tensor_with_minus_one_dims(tmp_path: Path) -> None:
    signature = ModelSignature(inputs=Schema([TensorSpec(np.dtype("float32"), (-1, 4, -1))]))
    example = synthesize.from_signature(_parsed(signature, tmp_path))
    assert example["dtypes"] == "float32" and isinstance(example["payload"]["inputs"], list)
    array, _ = _decoded(example)
    assert array.dtype == np.float32 and array.shape == (synthesize.ROWS, 4, synthesize.OTHER_DIM)
    _enforce_schema(array, signature.inputs)


@pytest.mark.parametrize("rows", [0, 1, synthesize.ROWS])
def test_a_minus_one_dimension_is_at_least_one_row(rows: int, tmp_path: Path) -> None:
    """Issue 34: a (-1, 3) tensor once came out as 0 rows (scikit-learn: `Found array with 0 sample(s)`)."""
    signature = ModelSignature(inputs=Schema([TensorSpec(np.dtype("float64"), (-1, 3))]))
    example = synthesize.from_signature(_parsed(signature, tmp_path), rows=rows)
    array, _ = _decoded(example)
    assert array.shape == (max(rows, 1), 3) and "0 rows" not in example["detail"]
    _enforce_schema(array, signature.inputs)
    from sklearn.linear_model import LinearRegression  # what the pyfunc wrapped

    fitted = LinearRegression().fit(np.arange(12.0).reshape(4, 3), [1.0, 2.0, 3.0, 4.0])
    assert fitted.predict(array).shape == (max(rows, 1),)


def test_a_negative_size_other_than_minus_one_is_refused() -> None:
    signature = {"inputs": [{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-2, 3]}}]}
    with pytest.raises(synthesize.Unsynthesizable, match="negative size"):
        synthesize.from_signature(signature)


def test_named_tensors_of_several_dtypes(tmp_path: Path) -> None:
    signature = ModelSignature(inputs=Schema([TensorSpec(np.dtype("uint8"), (-1, 2, 2), "image"),
                                              TensorSpec(np.dtype("int64"), (-1,), "ids"),
                                              TensorSpec(np.dtype("bool"), (3,), "mask")]))
    example = synthesize.from_signature(_parsed(signature, tmp_path))
    assert example["dtypes"] == {"image": "uint8", "ids": "int64", "mask": "bool"}
    arrays, _ = _decoded(example)
    assert {k: (str(v.dtype), v.shape) for k, v in arrays.items()} == {
        "image": ("uint8", (5, 2, 2)), "ids": ("int64", (5,)), "mask": ("bool", (3,))}
    _enforce_schema(arrays, signature.inputs)


def test_params_are_passed_at_their_defaults(tmp_path: Path) -> None:
    signature = ModelSignature(inputs=Schema([ColSpec("double", "x")]),
                               params=ParamSchema([ParamSpec("temperature", "double", 0.5), ParamSpec("top", "long", 3)]))
    example = synthesize.from_signature(_parsed(signature, tmp_path))
    assert example["payload"]["params"] == {"temperature": 0.5, "top": 3}
    assert "params at their defaults (temperature, top)" in example["detail"]
    _, params = _decoded(example)
    assert params == {"temperature": 0.5, "top": 3}


def test_deterministic_for_a_seed_and_different_for_another(tmp_path: Path) -> None:
    parsed = _parsed(ModelSignature(inputs=Schema([ColSpec(t, f"c_{t}") for t in TYPES])), tmp_path)
    first, again = synthesize.from_signature(parsed), synthesize.from_signature(parsed)
    assert first == again
    assert synthesize.from_signature(parsed, seed=synthesize.SEED + 1)["payload"] != first["payload"]
    assert len(synthesize.from_signature(parsed, rows=2)["payload"]["dataframe_split"]["data"]) == 2


def test_newer_column_types(tmp_path: Path) -> None:
    """Array and Object types (MLflow 2.10+): lists and dicts per row."""
    from mlflow.types.schema import Array, Object, Property

    signature = ModelSignature(inputs=Schema([ColSpec(Array("long"), "tags"),
                                              ColSpec(Object([Property("a", "double"), Property("b", "string")]), "obj")]))
    example = synthesize.from_signature(_parsed(signature, tmp_path))
    row = example["payload"]["dataframe_split"]["data"][0]
    assert len(row[0]) == synthesize.OTHER_DIM and all(isinstance(v, int) for v in row[0])
    assert set(row[1]) == {"a", "b"} and isinstance(row[1]["a"], float)


def test_no_signature_asks_the_loaded_model(tmp_path: Path) -> None:
    (tmp_path / "MLmodel").write_text("flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n")
    [example] = synthesize.for_model(tmp_path)
    assert example["source"] == "introspected" and example["introspect"] == {"rows": synthesize.ROWS, "seed": synthesize.SEED}
    assert "payload" not in example


def test_an_unusable_signature_falls_back_to_introspection(tmp_path: Path) -> None:
    inputs = json.dumps([{"type": "tensor", "tensor-spec": {"dtype": "float32"}}])
    (tmp_path / "MLmodel").write_text("flavors:\n  python_function: {}\nsignature:\n  inputs: '" + inputs + "'\n  outputs: null\n")
    [example] = synthesize.for_model(tmp_path)
    assert example["source"] == "introspected" and "the signature could not be used: a tensor has no usable dtype" in example["detail"]


@pytest.mark.parametrize("example, source", [({"name": "input_example"}, "example"), ({"name": "x", "payload": {}}, "file"),
                                             ({"name": "synthesized", "source": "signature", "payload": {}}, "signature")])
def test_source_of_older_expectations(example: dict, source: str) -> None:
    assert synthesize.source_of(example) == source


def test_settle_fixes_the_rows_the_runner_made() -> None:
    runs = [synthesize.introspection_request(), {"name": "input_example", "source": "example"}]
    made = [{"name": "synthesized", "ok": True, "payload": {"inputs": [[1.0]]}, "dtypes": "float64", "detail": "1 feature"}]
    settled = synthesize.settle(runs, made)
    assert settled[0] == {"name": "synthesized", "source": "introspected", "payload": {"inputs": [[1.0]]},
                          "dtypes": "float64", "detail": "1 feature"}
    assert settled[1] == runs[1]
