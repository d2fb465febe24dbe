"""Compare a scoring server's answer with a recorded (typed) prediction: the rule serve-check uses.

The server answers plain JSON, `{"predictions": P}`, which has lost the dtypes and the pandas
and numpy structure that the typed encoding keeps. So both sides are brought to the server's
JSON form and compared there:

1. the recorded typed prediction becomes the JSON MLflow's scoring server sends for that value
   (`served_json`): a DataFrame becomes a list of records, a Series a list of one-key records
   (the key is its name, "0" when unnamed), an ndarray nested lists, a dict or list stays one;
2. both JSON values are read back as typed values (`typed_json`): a list of records with the
   same keys becomes a dataframe, a rectangular nested list of scalars an ndarray, other
   lists and dicts stay lists and dicts; the "dtype" is the JSON type of the elements
   (json-int, json-float, json-bool, json-str, json-null, json-mixed), and a list holding
   ints and floats is json-float;
3. they are compared with compare_values (same rtol/atol as verify; floats with tolerance,
   everything else exactly).

So serve-check catches different values, missing or renamed columns, shapes, and a number
served as a string, but not what JSON cannot carry (int32 vs int64, float32 vs float64, a
category dtype). Datetimes are compared as the strings both sides hold.
"""

from __future__ import annotations

from typing import Any

from envforge.compare.results import DEFAULT_ATOL, DEFAULT_RTOL, ExampleComparison
from envforge.compare.structures import compare_values


def compare_served(example: str, expected: dict, served: Any, *, rtol: float = DEFAULT_RTOL,
                   atol: float = DEFAULT_ATOL) -> ExampleComparison:
    """`served`: the `predictions` value of the server's response."""
    try:
        wanted = typed_json(served_json(expected))
    except (KeyError, TypeError, IndexError, AttributeError):
        wanted = expected  # a malformed recording: compare_values reports it as such
    return compare_values(example, wanted, typed_json(served), rtol=rtol, atol=atol)


def served_json(typed: dict) -> Any:
    """The JSON MLflow's scoring server sends for a prediction with this typed encoding."""
    kind = typed["kind"]
    if kind == "dataframe":
        columns = [str(c) for c in typed["columns"]]
        rows = len(typed["data"][0]) if typed["data"] else 0
        return [{c: _plain(typed["data"][j][i]) for j, c in enumerate(columns)} for i in range(rows)]
    if kind == "series":
        name = "0" if typed.get("name") is None else str(typed["name"])
        return [{name: _plain(v)} for v in typed["data"]]
    if kind == "ndarray":
        return _plain(typed["data"])
    if kind == "list":
        return [served_json(item) for item in typed["items"]]
    if kind == "dict":
        return {str(k): served_json(v) for k, v in typed["items"].items()}
    if kind == "scalar":
        return _plain(typed.get("value"))
    raise TypeError(f"unknown kind {kind!r}")


def _plain(value: Any) -> Any:
    """Typed values nested in cells (a list in a DataFrame cell) become their JSON form too."""
    if isinstance(value, dict) and isinstance(value.get("kind"), str):
        return served_json(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def typed_json(value: Any) -> dict:
    """A plain JSON value as a typed value (see the module docstring)."""
    if isinstance(value, list):
        frame = _records(value)
        if frame is not None:
            return frame
        shape = _shape(value)
        if shape is not None:
            return {"kind": "ndarray", "dtype": json_dtype(_flat(value)), "shape": shape, "data": value}
        return {"kind": "list", "items": [typed_json(v) for v in value]}
    if isinstance(value, dict):
        return {"kind": "dict", "items": {str(k): typed_json(v) for k, v in value.items()}}
    return {"kind": "scalar", "dtype": json_dtype([value]), "value": value}


def json_dtype(values: list) -> str:
    kinds = {_json_type(v) for v in values}
    if not kinds:
        return "json-empty"
    if kinds == {"int", "float"}:
        return "json-float"
    return f"json-{kinds.pop()}" if len(kinds) == 1 else "json-mixed"


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    return "str" if isinstance(v, str) else "object"


def _records(rows: list) -> dict | None:
    if not rows or not all(isinstance(r, dict) for r in rows):
        return None
    columns = list(rows[0])
    if not columns or any(list(r) != columns for r in rows):
        return None
    data = [[r[c] for r in rows] for c in columns]
    if any(isinstance(v, (dict, list)) for col in data for v in col):
        return None
    return {"kind": "dataframe", "columns": columns, "dtypes": [json_dtype(col) for col in data], "data": data}


def _shape(value: Any) -> list[int] | None:
    """The shape of a rectangular nested list of scalars, else None."""
    if not isinstance(value, list):
        return [] if not isinstance(value, dict) else None
    if not value:
        return [0]
    inner = [_shape(v) for v in value]
    if any(s is None for s in inner) or any(s != inner[0] for s in inner):
        return None
    return [len(value), *inner[0]]  # type: ignore[misc]


def _flat(value: Any) -> list:
    if isinstance(value, list):
        return [x for v in value for x in _flat(v)]
    return [value]
