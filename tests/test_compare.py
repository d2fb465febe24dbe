from __future__ import annotations

import json
import math

import pytest

from envforge.compare import (
    DEFAULT_ATOL,
    DEFAULT_RTOL,
    Comparison,
    Diff,
    compare,
    compare_values,
)
from envforge.errors import UsageError

NAN, INF = math.nan, math.inf


def frame(columns: dict[str, list], dtypes: dict[str, str] | None = None) -> dict:
    dtypes = dtypes or {}
    return {"kind": "dataframe", "columns": list(columns),
            "dtypes": [dtypes.get(c, "float64") for c in columns],
            "data": [list(v) for v in columns.values()]}


def series(data: list, dtype: str = "float64", name: str | None = "y") -> dict:
    return {"kind": "series", "name": name, "dtype": dtype, "data": data}


def ndarray(data: object, shape: list[int], dtype: str = "float64") -> dict:
    return {"kind": "ndarray", "dtype": dtype, "shape": shape, "data": data}


def scalar(value: object, dtype: str) -> dict:
    return {"kind": "scalar", "dtype": dtype, "value": value}


def only_diff(result) -> Diff:
    assert not result.ok
    assert len(result.diffs) == 1, result.diffs
    return result.diffs[0]


def test_defaults_match_numpy_allclose():
    assert (DEFAULT_RTOL, DEFAULT_ATOL) == (1e-5, 1e-8)


def test_equal_dataframes_pass():
    df = frame({"a": [1.0, 2.5, NAN], "b": [1, 2, 3], "c": ["x", None, "z"]},
               {"b": "int64", "c": "object"})
    result = compare({"input_example": df}, {"input_example": json.loads(json.dumps(df))})
    assert result.ok
    assert result.diffs == []
    assert result.examples[0].ok and result.examples[0].example == "input_example"


def test_float_within_rtol_passes():
    result = compare_values("ex", frame({"a": [1000.0, 2.0]}), frame({"a": [1000.005, 2.0]}))
    assert result.ok and result.diffs == ()


def test_float_outside_rtol_fails_with_max_abs():
    exp = frame({"a": [1.0, 2.0, 3.0, 4.0]})
    act = frame({"a": [1.0, 2.5, 3.1, 4.0]})
    diff = only_diff(compare_values("ex", exp, act))
    assert (diff.kind, diff.location) == ("value", "column 'a'")
    assert (diff.mismatched, diff.total) == (2, 4)
    assert diff.max_abs == pytest.approx(0.5)
    assert diff.max_rel == pytest.approx(0.25)
    assert [s[0] for s in diff.samples] == ["1", "2"]
    assert "max abs diff 0.5" in diff.message and "row 1" in diff.message


def test_tolerances_are_parameters():
    exp, act = frame({"a": [1.0]}), frame({"a": [1.05]})
    assert not compare_values("ex", exp, act).ok
    assert compare_values("ex", exp, act, rtol=0.1).ok
    assert compare_values("ex", exp, act, rtol=0.0, atol=0.06).ok


def test_nan_equals_nan():
    assert compare_values("ex", series([1.0, NAN]), series([1.0, NAN])).ok
    assert compare_values("ex", ndarray([[NAN, 1.0]], [1, 2]), ndarray([[NAN, 1.0]], [1, 2])).ok
    assert compare_values("ex", scalar(NAN, "float"), scalar(NAN, "float")).ok


@pytest.mark.parametrize(("expected", "actual"), [(NAN, 1.0), (1.0, NAN), (NAN, None)])
def test_nan_vs_other_value_fails(expected, actual):
    diff = only_diff(compare_values("ex", series([0.0, expected]), series([0.0, actual])))
    assert diff.kind == "value" and diff.mismatched == 1 and diff.samples[0][0] == "1"


def test_infinities_equal_only_themselves():
    assert compare_values("ex", series([INF, -INF]), series([INF, -INF])).ok
    diff = only_diff(compare_values("ex", series([INF, 1.0]), series([-INF, INF])))
    assert diff.mismatched == 2 and diff.max_abs == INF


def test_ints_compare_exactly():
    diff = only_diff(compare_values("ex", frame({"n": [1, 5]}, {"n": "int64"}),
                                    frame({"n": [2, 5]}, {"n": "int64"})))
    assert diff.kind == "value" and diff.samples == (("0", 1, 2),)
    big = 10**17
    assert not compare_values("ex", scalar(big, "int"), scalar(big + 1, "int")).ok


def test_int_and_float_under_float_dtype_compare_numerically():
    assert compare_values("ex", series([1.0, 2.0]), series([1, 2])).ok
    diff = only_diff(compare_values("ex", series([1.0, 2.0], "float64"),
                                    series([1, 2], "int64")))
    assert diff.kind == "dtype" and diff.message == "expected float64, got int64"


def test_bool_is_not_numeric():
    diff = only_diff(compare_values("ex", frame({"b": [True, 0]}, {"b": "object"}),
                                    frame({"b": [1, False]}, {"b": "object"})))
    assert diff.kind == "value" and diff.mismatched == 2 and diff.max_abs is None
    assert not compare_values("ex", scalar(True, "bool"), scalar(1, "bool")).ok


def test_strings_and_none_compare_exactly():
    diff = only_diff(compare_values("ex", series(["a", None, "c"], "object"),
                                    series(["a", "", "C"], "object")))
    assert diff.mismatched == 2 and diff.samples == (("1", None, ""), ("2", "c", "C"))


def test_renamed_column_gives_columns_diff_and_shared_columns_still_compared():
    exp = frame({"sepal length": [1.0], "proba": [0.5]})
    act = frame({"sepal_length": [1.0], "proba": [0.9]})
    result = compare_values("ex", exp, act)
    kinds = {d.kind: d for d in result.diffs}
    assert set(kinds) == {"columns", "value"}
    assert "'sepal length'" in kinds["columns"].message
    assert "'sepal_length'" in kinds["columns"].message
    assert kinds["value"].location == "column 'proba'"


def test_column_order_change_is_a_columns_diff():
    diff = only_diff(compare_values("ex", frame({"a": [1.0], "b": [2.0]}),
                                    frame({"b": [2.0], "a": [1.0]})))
    assert diff.kind == "columns" and "order" in diff.message


def test_dtype_change_gives_dtype_diff():
    exp = frame({"a": [1.0, 2.0], "b": [3.0] * 2})
    act = frame({"a": [1, 2], "b": [3.0] * 2}, {"a": "int64"})
    diff = only_diff(compare_values("ex", exp, act))
    assert (diff.kind, diff.location) == ("dtype", "column 'a'")
    assert diff.message == "expected float64, got int64"


def test_row_count_change_gives_shape_diff():
    diff = only_diff(compare_values("ex", frame({"a": [1.0, 2.0]}), frame({"a": [1.0]})))
    assert diff.kind == "shape" and "2 rows" in diff.message


def test_ndarray_shape_mismatch():
    diff = only_diff(compare_values("ex", ndarray([[1.0, 2.0]], [1, 2]),
                                    ndarray([[1.0], [2.0]], [2, 1])))
    assert (diff.kind, diff.location) == ("shape", "shape")
    assert "[1, 2]" in diff.message and "[2, 1]" in diff.message


def test_ndarray_values_and_dtype():
    exp = ndarray([[1.0, 2.0], [3.0, 4.0]], [2, 2], "float32")
    act = ndarray([[1.0, 2.0], [3.5, 4.0]], [2, 2], "float64")
    result = compare_values("ex", exp, act)
    assert [d.kind for d in result.diffs] == ["dtype", "value"]
    assert result.diffs[1].samples == (("[1, 0]", 3.0, 3.5),)
    assert "[1, 0]" in result.diffs[1].message


def test_string_ndarray_and_series_name():
    assert not compare_values("ex", ndarray(["a", "b"], [2], "<U1"),
                              ndarray(["a", "c"], [2], "<U1")).ok
    diff = only_diff(compare_values("ex", series([1.0], name="a"), series([1.0], name="b")))
    assert diff.kind == "columns" and "'a'" in diff.message and "'b'" in diff.message


def test_nested_dict_and_list_locations():
    exp = {"kind": "dict", "items": {
        "proba": {"kind": "list", "items": [ndarray([1.0], [1]), ndarray([2.0], [1])]},
        "label": scalar("cat", "str"), "gone": scalar(1, "int")}}
    act = {"kind": "dict", "items": {
        "proba": {"kind": "list", "items": [ndarray([1.0], [1]), ndarray([9.0], [1])]},
        "label": scalar("dog", "str"), "new": scalar(1, "int")}}
    diffs = {d.location: d for d in compare_values("ex", exp, act).diffs}
    assert set(diffs) == {"keys", "items['proba'][1] values", "items['label'] value"}
    assert "missing keys 'gone'" in diffs["keys"].message
    assert "extra keys 'new'" in diffs["keys"].message
    inner = {"kind": "dict", "items": {"outer": {"kind": "dict", "items": {"b": scalar(1, "int")}}}}
    other = {"kind": "dict", "items": {"outer": {"kind": "dict", "items": {"b": scalar(2, "int")}}}}
    diff = only_diff(compare_values("ex", inner, other))
    assert diff.location == "items['outer'].items['b'] value"
    short = {"kind": "list", "items": [scalar(1, "int")]}
    diff = only_diff(compare_values("ex", {"kind": "list", "items": [short, short]},
                                    {"kind": "list", "items": [short, {"kind": "list", "items": []}]}))
    assert (diff.kind, diff.location) == ("length", "[1] length")


def test_typed_values_inside_object_columns_compare_recursively():
    exp = frame({"emb": [ndarray([1.0, 2.0], [2]), ndarray([3.0], [1])]}, {"emb": "object"})
    same = frame({"emb": [ndarray([1.0, 2.0], [2]), ndarray([3.0], [1])]}, {"emb": "object"})
    act = frame({"emb": [ndarray([1.0, 2.0], [2]), ndarray([3.3], [1])]}, {"emb": "object"})
    assert compare_values("ex", exp, same).ok
    diff = only_diff(compare_values("ex", exp, act))
    assert diff.location == "column 'emb'" and diff.max_abs == pytest.approx(0.3)


def test_kind_mismatch():
    diff = only_diff(compare_values("ex", frame({"a": [1.0]}), ndarray([1.0], [1])))
    assert diff.kind == "kind" and diff.message == "expected dataframe, got ndarray"


@pytest.mark.parametrize("odd", [
    None, 3, "x", [], {}, {"kind": "tensor"}, {"kind": "dataframe"},
    {"kind": "dataframe", "columns": ["a"], "dtypes": ["int64"], "data": [[1], [2]]},
    {"kind": "dataframe", "columns": [["a"]], "dtypes": ["int64"], "data": [[1]]},
    {"kind": "ndarray", "dtype": "int64", "shape": [3], "data": [1, 2]},
    {"kind": "ndarray", "dtype": "int64", "shape": [-1], "data": []},
    {"kind": "list", "items": [{"kind": "scalar"}]},
])
def test_malformed_values_never_raise(odd):
    result = compare_values("ex", odd, odd)
    assert not result.ok and result.diffs[0].kind == "kind"
    assert "malformed" in result.diffs[0].message
    assert not compare_values("ex", series([1], "int64"), odd).ok
    assert not compare({"ex": odd}, {"ex": odd}).ok


def test_malformed_typed_value_inside_a_column_is_a_value_mismatch():
    odd = series([{"kind": 5}, 1], "object")
    diff = only_diff(compare_values("ex", odd, odd))
    assert (diff.kind, diff.mismatched, diff.total) == ("value", 1, 2)


def test_huge_and_deep_values_never_raise():
    assert not compare_values("ex", series([10**400], "float64"), series([1.0], "float64")).ok
    deep: object = 1.0
    for _ in range(5000):
        deep = [deep]
    result = compare_values("ex", scalar(deep, "object"), scalar(deep, "object"))
    # Too deep to walk: named as a comparison that could not be made, never a crash and never a silent pass.
    assert not result.ok and result.diffs[0].kind == "kind"
    assert "could not compare values (RecursionError" in result.diffs[0].message


def test_worst_first_ordering():
    exp = {"a": frame({"x": [1.0, 2.0]}), "b": frame({"y": [1.0, 1.0]}),
           "c": frame({"z": [1.0, 2.0]})}
    act = {"a": frame({"x": [1.0, 2.0 + 1e-3]}), "b": frame({"y": [1.0, 1.5]}),
           "c": frame({"z": [1.0, 2.0]}, {"z": "float32"})}
    diffs = compare(exp, act).diffs
    assert [(d.example, d.kind) for d in diffs] == [("c", "dtype"), ("b", "value"), ("a", "value")]


def test_missing_example_fails_and_extra_example_does_not():
    df = frame({"a": [1.0]})
    result = compare({"first": df, "second": df}, {"first": df})
    assert not result.ok
    assert [(ex.example, ex.ok) for ex in result.examples] == [("first", True), ("second", False)]
    assert result.diffs[0].kind == "missing"
    extra = compare({"first": df}, {"first": df, "bonus": df})
    assert extra.ok and [d.kind for d in extra.diffs] == ["extra"]
    assert "bonus" in extra.summary()


def test_summary_mentions_example_and_column():
    exp = {"input_example": frame({"proba": [0.1, 0.2, 0.3, 0.4, 0.5]}), "other": series([1.0])}
    act = {"input_example": frame({"proba": [0.1, 0.2, 0.36, 0.4, 0.5]}), "other": series([1.0])}
    text = compare(exp, act).summary()
    assert text.startswith("1 of 2 examples differ")
    assert "input_example" in text and "column 'proba'" in text and "1 of 5 values" in text
    assert "\n" not in text
    assert compare(exp, exp).summary().startswith("all 2 examples match")


def test_samples_are_capped():
    diff = only_diff(compare_values("ex", series([float(i) for i in range(20)]),
                                    series([i + 0.5 for i in range(20)])))
    assert diff.mismatched == 20 and len(diff.samples) == 5


def test_to_dict_is_strict_json():
    exp = {"e": series([NAN, 1.0, INF, 2.0]), "m": series([1.0])}
    act = {"e": series([1.0, NAN, -INF, 2.0]), "x": series([1.0])}
    result = compare(exp, act)
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["ok"] is False and data["summary"] == result.summary()
    value = next(d for ex in data["examples"] for d in ex["diffs"] if d["kind"] == "value")
    assert value["max_abs"] == "inf"
    assert value["samples"][0] == {"index": "0", "expected": "nan", "actual": 1.0}
    assert value["samples"][2] == {"index": "2", "expected": "inf", "actual": "-inf"}
    assert isinstance(result, Comparison)
    json.dumps(result.diffs[0].to_dict(), allow_nan=False)


@pytest.mark.parametrize("tol", [{"rtol": -1.0}, {"atol": NAN}, {"rtol": "1"}])
def test_bad_tolerances_are_usage_errors(tol):
    with pytest.raises(UsageError):
        compare({}, {}, **tol)
