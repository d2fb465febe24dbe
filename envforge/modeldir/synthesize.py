"""Inputs for a model that logged none: a few deterministic rows made from its MLmodel signature.

Most real models have no input example, so without this `verify` could only say that the model
loads. The signature is pure data (JSON strings inside MLmodel): reading it here, in envforge's
own process, loads no model. A model without a signature is asked inside its env instead: the
runner's introspection (envforge/runner/introspect.py) answers an `introspect` request with the
rows it made, and `settle` turns that answer into a fixed payload, so that `record`, later
verifies and bisect steps all run the very same rows.

A synthesized example proves that the model loads and predicts deterministically on inputs of
the right shape and types, not that it predicts right: the values are random, not realistic.

Every example carries its `source`: `example` (the model's logged input example), `file`
(--input FILE), `signature` or `introspected`.
"""

from __future__ import annotations

import base64
import datetime
import json
import random
from pathlib import Path
from typing import Any

from envforge.bounds.parsing import load_json
from envforge.spec.yamlfile import read_mapping

NAME = "synthesized"
ROWS = 5
SEED = 20240601
OTHER_DIM = 3          # a -1 dimension other than the first (the rows) becomes this many
MAX_VALUES = 200_000   # a tensor with more values per row than this: fewer rows
SYNTHESIZED = ("signature", "introspected")
SOURCES = ("example", "file", *SYNTHESIZED)

# MLflow's column types -> the dtype the runner gives the column (DataType's pandas types).
COLUMN_DTYPES = {"boolean": "bool", "integer": "int32", "long": "int64", "float": "float32",
                 "double": "float64", "string": "str", "binary": "bytes", "datetime": "datetime64[ns]"}


class Unsynthesizable(ValueError):
    """The signature names something envforge cannot make a value of."""


def for_model(model_dir: Path, *, rows: int = ROWS, seed: int = SEED) -> list[dict[str, Any]]:
    """The synthesized example to run for a model without one: from its signature if it has
    one that envforge can read, else a request for the runner to ask the loaded model."""
    signature = read_signature(model_dir)
    if signature is not None:
        try:
            return [from_signature(signature, rows=rows, seed=seed)]
        except Unsynthesizable as exc:
            return [introspection_request(rows=rows, seed=seed, why=f"the signature could not be used: {exc}")]
    return [introspection_request(rows=rows, seed=seed)]


def read_signature(model_dir: Path) -> dict[str, Any] | None:
    """MLmodel's `signature: {inputs: '<json>', params: '<json>'}` as data; None without inputs."""
    data = read_mapping(model_dir / "MLmodel", "MLmodel")
    signature = data.get("signature")
    if not isinstance(signature, dict):
        return None
    out: dict[str, Any] = {}
    for key in ("inputs", "params"):
        value = signature.get(key)
        if isinstance(value, str):
            try:
                value = load_json(value, f"MLmodel's signature `{key}`")  # bounded: MLmodel is untrusted (issue 17)
            except ValueError:
                value = None
        out[key] = value if isinstance(value, list) else None
    return out if out["inputs"] else None


def introspection_request(*, rows: int = ROWS, seed: int = SEED, why: str = "") -> dict[str, Any]:
    """An example the runner fills in by asking the loaded model for its features."""
    return {"name": NAME, "source": "introspected", "introspect": {"rows": rows, "seed": seed},
            "detail": why or "the model has no signature: its inputs are asked of the loaded model"}


def from_signature(signature: dict[str, Any], *, rows: int = ROWS, seed: int = SEED) -> dict[str, Any]:
    """A runner example ({"name", "source", "payload", "dtypes", "detail"}) from a parsed signature."""
    rng = random.Random(seed)
    rows = max(rows, 1)  # an input of no rows proves nothing, and scikit-learn refuses it
    inputs = signature.get("inputs") or []
    if not inputs:
        raise Unsynthesizable("it declares no inputs")
    if all(isinstance(spec, dict) and spec.get("type") == "tensor" for spec in inputs):
        payload, dtypes, detail = _tensors(inputs, rows, rng)
    elif any(isinstance(spec, dict) and spec.get("type") == "tensor" for spec in inputs):
        raise Unsynthesizable("it mixes tensors and columns")
    else:
        payload, dtypes, detail = _columns(inputs, rows, rng)
    params = {p["name"]: p.get("default") for p in signature.get("params") or []
              if isinstance(p, dict) and isinstance(p.get("name"), str)}
    if params:
        payload["params"] = params
        detail += f", params at their defaults ({', '.join(sorted(params))})"
    return {"name": NAME, "source": "signature", "payload": payload, "dtypes": dtypes, "detail": detail}


def _columns(specs: list[Any], rows: int, rng: random.Random) -> tuple[dict[str, Any], list[str], str]:
    names, dtypes, columns = [], [], []
    optional = 0
    for spec in specs:
        if not isinstance(spec, dict):
            raise Unsynthesizable(f"a column is {spec!r}")
        names.append(spec.get("name"))
        kind = spec.get("type")
        dtypes.append(COLUMN_DTYPES.get(kind, "object") if isinstance(kind, str) else "object")
        columns.append([_value(spec, rng) for _ in range(rows)])
        optional += spec.get("required") is False  # optional columns are filled too: the model may use them
    named = all(isinstance(n, str) for n in names)
    if not named and any(isinstance(n, str) for n in names):
        raise Unsynthesizable("some columns have names and some do not")
    split: dict[str, Any] = {"data": [list(row) for row in zip(*columns, strict=True)]}
    if named:
        split["columns"] = names
    detail = (f"{rows} rows x {len(specs)} {'named' if named else 'unnamed'} column(s) from the signature"
              + (f" ({optional} optional, filled too)" if optional else ""))
    return {"dataframe_split": split}, dtypes, detail


def _value(spec: dict[str, Any], rng: random.Random) -> Any:
    """One value of a column type: MLflow's DataType names, or array/object/map/any."""
    kind = spec.get("type")
    if kind == "array":
        items = spec.get("items") if isinstance(spec.get("items"), dict) else {"type": "string"}
        return [_value(items, rng) for _ in range(OTHER_DIM)]
    if kind == "object":
        props = spec.get("properties") if isinstance(spec.get("properties"), dict) else {}
        return {str(k): _value(v if isinstance(v, dict) else {"type": "string"}, rng) for k, v in sorted(props.items())}
    if kind == "map":
        values = spec.get("values") if isinstance(spec.get("values"), dict) else {"type": "string"}
        return {"key_0": _value(values, rng)}
    if kind in ("any", None):
        return f"value_{rng.randrange(3)}"
    return scalar(str(kind), rng)


def scalar(kind: str, rng: random.Random) -> Any:
    """A JSON value for an MLflow type or a numpy dtype name; binary as base64, datetimes as ISO text."""
    kind = {"double": "float64", "float": "float32", "long": "int64", "integer": "int32", "boolean": "bool",
            "string": "str", "binary": "bytes", "datetime": "datetime64[ns]"}.get(kind, kind)
    if kind.startswith(("float", "complex")):
        return round(rng.uniform(-1.0, 1.0), 4)
    if kind.startswith(("int", "uint")):
        return rng.randrange(10)
    if kind == "bool":
        return rng.random() < 0.5
    if kind.startswith("datetime"):
        moment = datetime.datetime(2024, 1, 1) + datetime.timedelta(days=rng.randrange(365), seconds=rng.randrange(86400))
        return moment.isoformat()
    if kind.startswith(("bytes", "|S", "S")):
        return base64.b64encode(bytes(rng.randrange(256) for _ in range(8))).decode()
    if kind.startswith(("str", "object", "<U", "U")):
        return f"value_{rng.randrange(3)}"
    raise Unsynthesizable(f"no value can be made for the type {kind!r}")


def _tensors(specs: list[dict[str, Any]], rows: int, rng: random.Random) -> tuple[dict[str, Any], Any, str]:
    names = [s.get("name") for s in specs]
    if len(specs) > 1 and not all(isinstance(n, str) for n in names):
        raise Unsynthesizable("it has several tensors, not all of them named")
    made, dtypes, shapes = {}, {}, []
    for spec in specs:
        info = spec.get("tensor-spec") if isinstance(spec.get("tensor-spec"), dict) else {}
        dtype, shape = str(info.get("dtype") or ""), info.get("shape")
        if not dtype or not isinstance(shape, list) or not all(isinstance(d, int) for d in shape):
            raise Unsynthesizable(f"a tensor has no usable dtype and shape ({info!r})")
        dims = _dims(shape, rows)
        made[spec.get("name")] = _nested(dims, dtype, rng)
        dtypes[spec.get("name")] = dtype
        shapes.append(f"{dtype}{tuple(dims)}".replace(",)", ")"))
    others = any(-1 in (s.get("tensor-spec") or {}).get("shape", [])[1:] for s in specs)
    detail = f"tensor(s) {', '.join(shapes)} from the signature (-1: {rows} rows" + (f" first, {OTHER_DIM} elsewhere)" if others else ")")
    if len(specs) == 1 and not isinstance(names[0], str):
        return {"inputs": made[names[0]]}, dtypes[names[0]], detail
    return {"inputs": made}, dtypes, detail


def _dims(shape: list[int], rows: int) -> list[int]:
    """Concrete dimensions for a signature's shape: a -1 (any size) is at least one, never none: a
    leading -1 is the rows (at least 1), any other -1 is OTHER_DIM; a negative size other than -1 is refused."""
    if not shape:
        return []
    if any(d < -1 for d in shape):
        raise Unsynthesizable(f"a tensor has the shape {tuple(shape)}, with a negative size other than -1")
    dims = [max(rows, 1) if shape[0] == -1 else shape[0]] + [OTHER_DIM if d == -1 else d for d in shape[1:]]
    per_row = 1
    for d in dims[1:]:
        per_row *= max(d, 0)
    if shape[0] == -1 and per_row * dims[0] > MAX_VALUES:
        dims[0] = 1
    if per_row * dims[0] > MAX_VALUES * 10:
        raise Unsynthesizable(f"a tensor of shape {tuple(shape)} is too large to synthesize")
    return dims


def _nested(dims: list[int], dtype: str, rng: random.Random) -> Any:
    if not dims:
        return scalar(dtype, rng)
    return [_nested(dims[1:], dtype, rng) for _ in range(dims[0])]


def source_of(example: dict[str, Any]) -> str:
    """Where an example came from; expectations recorded before sources existed: by their shape."""
    source = example.get("source")
    if source in SOURCES:
        return str(source)
    return "file" if "payload" in example else "example"


def settle(runs: list[dict[str, Any]], runner_examples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Introspection requests replaced by the rows the runner made for them, so that recording
    them (or running them in another env, as bisect does) runs the same rows again."""
    made = {e["name"]: e for e in runner_examples if e.get("payload") is not None}
    out = []
    for run in runs:
        answer = made.get(run["name"]) if "introspect" in run else None
        if answer is not None:
            run = {k: v for k, v in run.items() if k != "introspect"}
            run.update(payload=answer["payload"], dtypes=answer.get("dtypes"), detail=answer.get("detail") or run.get("detail"))
        out.append(run)
    return out


def reported(runner_examples: list[dict[str, Any]], runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The report's view of each example run: name, outcome, timing, and where its input came from."""
    by_name = {r["name"]: r for r in runs}
    out = []
    for entry in runner_examples:
        run = by_name.get(entry.get("name"), {})
        item = {k: entry.get(k) for k in ("name", "ok", "seconds", "stage")}
        item["source"] = source_of(run) if run else None
        if entry.get("ok"):
            item.update(_reported_prediction(entry.get("prediction")))
        detail = entry.get("unknowable") or entry.get("detail") or run.get("detail")
        if detail and item["source"] in SYNTHESIZED:
            item["detail"] = detail
        out.append(item)
    return out


# What the rebuilt env answered goes in the report (to see what a model predicts, and for tests to check it against
# the truth they computed), up to this size of typed JSON; a larger one is named, not copied.
REPORTED_PREDICTION_BYTES = 256 * 1024


def _reported_prediction(prediction: Any) -> dict[str, Any]:
    size = len(json.dumps(prediction, default=str))
    if size > REPORTED_PREDICTION_BYTES:
        return {"prediction": None, "prediction_omitted": f"{size} bytes of JSON, over the report's {REPORTED_PREDICTION_BYTES}"}
    return {"prediction": prediction}


def phrase(source: str | None) -> str:
    """How a verdict names a synthesized example's origin."""
    return {"signature": "synthesized from its signature",
            "introspected": "synthesized from what the loaded model reports"}.get(source or "", "synthesized")


__all__ = ["NAME", "ROWS", "SEED", "SOURCES", "SYNTHESIZED", "Unsynthesizable", "for_model", "from_signature",
           "introspection_request", "phrase", "read_signature", "reported", "settle", "source_of"]
