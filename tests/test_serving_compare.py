"""serve-check's rule: a recorded typed prediction vs the scoring server's JSON answer."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from envforge.compare.serving import compare_served, served_json, typed_json
from envforge.runner.run_model import encode


def _served(prediction: object) -> object:
    """What MLflow's scoring server answers for this prediction (its own serializer, a real round trip)."""
    import io

    from mlflow.pyfunc.scoring_server import predictions_to_json

    buffer = io.StringIO()
    predictions_to_json(prediction, buffer)
    return json.loads(buffer.getvalue())["predictions"]


@pytest.mark.parametrize("prediction", [
    np.array([0, 1, 2, 2]),
    np.array([[0.25, 0.75], [0.5, 0.5]]),
    np.array(["setosa", "virginica"]),
    pd.DataFrame({"score": [0.1, 0.2], "label": [1, 0]}),
    pd.Series([1.5, 2.5], name="yhat"),
    pd.Series([3, 4]),
    {"a": np.array([1.0, 2.0]), "b": np.array([3, 4])},
    [1, 2, 3],
    7.5,
])
def test_the_servers_own_answer_matches_the_recorded_prediction(prediction: object) -> None:
    expected = encode(prediction)  # what `envforge record` stores
    assert typed_json(served_json(expected)) == typed_json(_served(prediction))
    assert compare_served("input_example", expected, _served(prediction)).ok


def test_a_changed_value_is_a_value_diff_with_tolerance() -> None:
    expected = encode(np.array([0.25, 0.75]))
    assert compare_served("x", expected, [0.25, 0.75 + 1e-9]).ok
    result = compare_served("x", expected, [0.25, 0.8])
    assert not result.ok and result.diffs[0].kind == "value" and result.diffs[0].mismatched == 1


def test_a_dropped_column_and_a_number_served_as_text_are_reported() -> None:
    frame = encode(pd.DataFrame({"score": [0.1, 0.2], "label": [1, 0]}))
    missing = compare_served("x", frame, [{"score": 0.1}, {"score": 0.2}])
    assert not missing.ok and missing.diffs[0].kind == "columns" and "label" in missing.diffs[0].message
    as_text = compare_served("x", encode(np.array([1, 2])), ["1", "2"])
    assert not as_text.ok and as_text.diffs[0].kind == "dtype"
    ints_as_floats = compare_served("x", encode(np.array([1, 2])), [1.0, 2.0])
    assert not ints_as_floats.ok and "json-int" in ints_as_floats.diffs[0].message


def test_typed_json_shapes() -> None:
    assert typed_json([[1, 2], [3, 4]]) == {"kind": "ndarray", "dtype": "json-int", "shape": [2, 2], "data": [[1, 2], [3, 4]]}
    assert typed_json([1, 2.5])["dtype"] == "json-float"
    assert typed_json([[1], [2, 3]])["kind"] == "list"  # ragged
    assert typed_json([{"a": 1}, {"b": 2}])["kind"] == "list"  # records with different keys
    assert typed_json({"a": None}) == {"kind": "dict", "items": {"a": {"kind": "scalar", "dtype": "json-null", "value": None}}}
