"""An oracle independent of envforge's runner: what the model predicts in the test's own process.

Most expected predictions come from `envforge record`, which runs the same runner (runner/run_model.py) as
`verify`: an encoding bug there (a dtype lost, columns flipped, floats rounded) would appear on both sides
and pass. A test that trains a model already holds the truth, `model.predict(X)` at training time. These
helpers decode the typed JSON a report carries for each example (`examples[i].prediction`, written by the
rebuilt env's runner) with code of their own, and compare it with that truth, dtype and shape included.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def decode(encoded: dict[str, Any]) -> Any:
    """The object a typed-JSON prediction stands for (the runner's encoding, read independently of envforge)."""
    kind = encoded["kind"]
    if kind == "ndarray":
        return np.array(encoded["data"], dtype=encoded["dtype"]).reshape(encoded["shape"])
    if kind == "dataframe":
        columns = {name: pd.Series(data, dtype=dtype) for name, dtype, data in
                   zip(encoded["columns"], encoded["dtypes"], encoded["data"], strict=True)}
        return pd.DataFrame(columns, columns=encoded["columns"])
    if kind == "series":
        return pd.Series(encoded["data"], dtype=encoded["dtype"], name=encoded["name"])
    if kind == "list":
        return [decode(item) for item in encoded["items"]]
    if kind == "dict":
        return {key: decode(item) for key, item in encoded["items"].items()}
    if kind == "scalar":
        return encoded["value"]
    raise AssertionError(f"an encoding the oracle does not know: {kind!r}")


def reported(result: dict[str, Any], example: str = "input_example") -> Any:
    """The prediction a JSON report (one model's result) says the rebuilt env gave for `example`."""
    by_name = {e["name"]: e for e in result["examples"]}
    assert example in by_name, f"no example {example!r} in the report: {sorted(by_name)}"
    entry = by_name[example]
    assert entry.get("ok") and entry.get("prediction") is not None, entry
    return decode(entry["prediction"])


def assert_same_as_truth(result: dict[str, Any], truth: Any, example: str = "input_example") -> None:
    """The rebuilt env's prediction equals `truth`, computed in the test's process: values, dtype, shape, columns."""
    assert_equal(reported(result, example), truth)


def assert_equal(got: Any, truth: Any) -> None:
    if isinstance(truth, pd.DataFrame):
        pd.testing.assert_frame_equal(got, truth.reset_index(drop=True), check_exact=False, rtol=1e-9)
    elif isinstance(truth, pd.Series):
        pd.testing.assert_series_equal(got, truth.reset_index(drop=True), check_exact=False, rtol=1e-9)
    elif isinstance(truth, dict):
        assert isinstance(got, dict) and list(got) == [str(k) for k in truth], (got, truth)
        for key, value in truth.items():
            assert_equal(got[str(key)], value)
    elif isinstance(truth, (list, tuple)) and not isinstance(got, np.ndarray):
        assert isinstance(got, list) and len(got) == len(truth), (got, truth)
        for one, other in zip(got, truth, strict=True):
            assert_equal(one, other)
    elif isinstance(truth, (np.ndarray, np.generic)):
        truth = np.asarray(truth)
        assert isinstance(got, np.ndarray), type(got)
        assert (got.dtype, got.shape) == (truth.dtype, truth.shape), (got.dtype, got.shape, truth.dtype, truth.shape)
        if truth.dtype.kind in "fc":
            np.testing.assert_allclose(got, truth, rtol=1e-9, atol=0)
        else:
            np.testing.assert_array_equal(got, truth)
    else:
        assert got == truth and type(got) is type(truth), (got, truth)
