"""Structural comparison of typed values (dataframe, series, ndarray, list, dict, scalar):
well-formedness, kind, columns, keys, shape, length and dtype; elements go to values.py."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from envforge.compare.results import DEFAULT_ATOL, DEFAULT_RTOL, PRIMITIVES, Comparison, Diff, ExampleComparison, severity, short
from envforge.compare.values import Ctx, check_tolerances, compare_seq, holds_floats, is_num, same


def compare_values(example: str, expected: dict, actual: dict, *, rtol: float = DEFAULT_RTOL,
                   atol: float = DEFAULT_ATOL) -> ExampleComparison:
    """Compare one example's typed prediction with its recorded one."""
    ctx = Ctx(str(example), *check_tolerances(rtol, atol), nested=compare_typed)
    try:
        diffs = compare_typed(ctx, "", expected, actual)
    except Exception as exc:  # untrusted predictions must never crash the host
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())
        diffs = [ctx.structural("", "kind", f"could not compare values ({reason})")]
    diffs = sorted(diffs, key=severity)
    return ExampleComparison(ctx.example, all(d.kind == "extra" for d in diffs), tuple(diffs))


def compare(expected: dict[str, dict], actual: dict[str, dict], *, rtol: float = DEFAULT_RTOL,
            atol: float = DEFAULT_ATOL) -> Comparison:
    """Compare every example; a missing example fails, an extra one is reported but passes."""
    rtol, atol = check_tolerances(rtol, atol)
    expected = expected if isinstance(expected, Mapping) else {}
    actual = actual if isinstance(actual, Mapping) else {}

    def unmatched(name: object, ok: bool, kind: str, message: str) -> ExampleComparison:
        return ExampleComparison(str(name), ok, (Ctx(str(name), rtol, atol).structural("", kind, message),))

    examples = []
    for name, value in expected.items():
        if name in actual:
            examples.append(compare_values(name, value, actual[name], rtol=rtol, atol=atol))
        else:
            kind = value.get("kind") if isinstance(value, dict) else None
            examples.append(unmatched(name, False, "missing", f"no prediction for this example; expected a {kind}"))
    examples += [unmatched(name, True, "extra", "prediction for an example with no recorded expectation (ignored)")
                 for name in actual if name not in expected]
    return Comparison(all(ex.ok for ex in examples), tuple(examples), rtol, atol)


def compare_typed(ctx: Ctx, loc: str, e: Any, a: Any) -> list[Diff]:
    for side, value in (("expected", e), ("actual", a)):
        problem = _problem(value)
        if problem:
            return [ctx.structural(loc, "kind", f"malformed {side} value: {problem}")]
    if e["kind"] != a["kind"]:
        return [ctx.structural(loc, "kind", f"expected {e['kind']}, got {a['kind']}")]
    return _COMPARERS[e["kind"]](ctx, loc, e, a)


def _problem(v: Any) -> str | None:
    """Why `v` is not a well-formed typed value, or None when it is."""
    if not isinstance(v, dict):
        return f"expected a typed JSON object, got {type(v).__name__}"
    kind = v.get("kind")
    fields = _REQUIRED.get(kind) if isinstance(kind, str) else None
    if fields is None:
        return f"unknown kind {short(kind)}"
    for field, types in fields.items():
        if not isinstance(v.get(field), types):
            return f"{kind} needs a {'/'.join(t.__name__ for t in types)} field {field!r}"
    if kind == "dataframe":
        cols, dtypes, data = v["columns"], v["dtypes"], v["data"]
        if not (len(cols) == len(dtypes) == len(data) and all(isinstance(d, str) for d in dtypes)
                and all(isinstance(c, PRIMITIVES) for c in cols)):
            return "dataframe needs as many JSON-scalar column names as dtype strings and data"
        if not all(isinstance(c, list) for c in data) or len({len(c) for c in data}) > 1:
            return "dataframe data must hold one list per column, all equally long"
    if kind == "ndarray" and not all(is_num(n) and isinstance(n, int) and n >= 0 for n in v["shape"]):
        return "ndarray shape must be a list of non-negative ints"
    return None


_REQUIRED: dict[str, dict[str, tuple[type, ...]]] = {
    "dataframe": {"columns": (list,), "dtypes": (list,), "data": (list,)},
    "series": {"dtype": (str,), "data": (list,), "name": PRIMITIVES},  # missing name: None
    "ndarray": {"dtype": (str,), "shape": (list,), "data": PRIMITIVES + (list, dict)},
    "list": {"items": (list,)},
    "dict": {"items": (dict,)},  # JSON object keys are always strings
    "scalar": {"dtype": (str,), "value": PRIMITIVES + (list, dict)},  # missing value: None
}


def _compare_dataframe(ctx: Ctx, loc: str, e: dict, a: dict) -> list[Diff]:
    diffs = []
    ekeys, akeys = _column_keys(e["columns"]), _column_keys(a["columns"])
    if ekeys != akeys:
        diffs.append(_columns_diff(ctx, loc, ekeys, akeys))
    erows, arows = (len(v["data"][0]) if v["data"] else 0 for v in (e, a))
    if erows != arows:
        diffs.append(ctx.structural(_join(loc, "shape"), "shape", f"expected {erows} rows, got {arows}"))
    apos = {key: j for j, key in enumerate(akeys)}
    for i, key in enumerate(ekeys):
        j = apos.get(key)
        if j is None:
            continue
        cloc = _join(loc, f"column {_column_label(key)}")
        edt, adt = e["dtypes"][i], a["dtypes"][j]
        diffs += _dtype_diff(ctx, cloc, edt, adt)
        if erows == arows:
            diffs += compare_seq(ctx, cloc, e["data"][i], a["data"][j], holds_floats(edt, adt), None)
    return diffs


def _column_keys(columns: list) -> list[tuple[str, object, int]]:
    """Hashable keys that tell apart duplicate names and e.g. the column 1 from True."""
    seen: dict[tuple[str, object], int] = {}
    keys = []
    for name in columns:
        base = (type(name).__name__, name)
        seen[base] = seen.get(base, -1) + 1
        keys.append((*base, seen[base]))
    return keys


def _column_label(key: tuple[str, object, int]) -> str:
    return f"{key[1]!r}" + (f" #{key[2] + 1}" if key[2] else "")


def _columns_diff(ctx: Ctx, loc: str, ekeys: list, akeys: list) -> Diff:
    elabels, alabels = [_column_label(k) for k in ekeys], [_column_label(k) for k in akeys]
    message = _missing_extra("columns", elabels, alabels) or (
        f"column order differs: expected {', '.join(elabels)}; got {', '.join(alabels)}")
    return ctx.structural(_join(loc, "columns"), "columns", message)


def _compare_series(ctx: Ctx, loc: str, e: dict, a: dict) -> list[Diff]:
    """Like a one-column dataframe; a renamed series still has its values compared."""
    ename, aname = e.get("name"), a.get("name")
    diffs = [] if same(ename, aname) else [ctx.structural(
        _join(loc, "columns"), "columns", f"expected name {short(ename)}, got {short(aname)}")]
    erows, arows = len(e["data"]), len(a["data"])
    if erows != arows:
        diffs.append(ctx.structural(_join(loc, "shape"), "shape", f"expected {erows} rows, got {arows}"))
    diffs += _dtype_diff(ctx, _join(loc, "dtype"), e["dtype"], a["dtype"])
    if erows == arows:
        floaty = holds_floats(e["dtype"], a["dtype"])
        diffs += compare_seq(ctx, _join(loc, "values"), e["data"], a["data"], floaty, None)
    return diffs


def _compare_ndarray(ctx: Ctx, loc: str, e: dict, a: dict) -> list[Diff]:
    eflat, aflat = _flatten(e["data"], e["shape"]), _flatten(a["data"], a["shape"])
    for side, flat in (("expected", eflat), ("actual", aflat)):
        if flat is None:
            return [ctx.structural(loc, "kind", f"malformed {side} value: ndarray data does not match its shape")]
    diffs = _dtype_diff(ctx, _join(loc, "dtype"), e["dtype"], a["dtype"])
    if e["shape"] != a["shape"]:
        return [ctx.structural(_join(loc, "shape"), "shape", f"expected shape {e['shape']}, got {a['shape']}")] + diffs
    floaty = holds_floats(e["dtype"], a["dtype"])
    return diffs + compare_seq(ctx, _join(loc, "values"), eflat, aflat, floaty, e["shape"])


def _flatten(data: Any, shape: list[int]) -> list | None:
    """Row-major elements of nested lists `data` of the given shape, or None on mismatch."""
    if not shape:
        return [data]
    if not isinstance(data, list) or len(data) != shape[0]:
        return None
    flat: list = []
    for sub in data:
        part = _flatten(sub, shape[1:])
        if part is None:
            return None
        flat += part
    return flat


def _compare_list(ctx: Ctx, loc: str, e: dict, a: dict) -> list[Diff]:
    eitems, aitems = e["items"], a["items"]
    diffs = []
    if len(eitems) != len(aitems):
        diffs.append(ctx.structural(_join(loc, "length"), "length", f"expected {len(eitems)} items, got {len(aitems)}"))
    for i, (x, y) in enumerate(zip(eitems, aitems, strict=False)):
        diffs += compare_typed(ctx, _join(loc, f"[{i}]"), x, y)
    return diffs


def _compare_dict(ctx: Ctx, loc: str, e: dict, a: dict) -> list[Diff]:
    eitems, aitems = e["items"], a["items"]
    message = _missing_extra("keys", [repr(k) for k in eitems], [repr(k) for k in aitems])
    diffs = [ctx.structural(_join(loc, "keys"), "keys", message)] if message else []
    for key in eitems:
        if key in aitems:
            diffs += compare_typed(ctx, _join(loc, f"items[{key!r}]"), eitems[key], aitems[key])
    return diffs


def _compare_scalar(ctx: Ctx, loc: str, e: dict, a: dict) -> list[Diff]:
    floaty = holds_floats(e["dtype"], a["dtype"])
    values = compare_seq(ctx, _join(loc, "value"), [e.get("value")], [a.get("value")], floaty, [])
    return _dtype_diff(ctx, _join(loc, "dtype"), e["dtype"], a["dtype"]) + values


_COMPARERS: dict[str, Callable[[Ctx, str, dict, dict], list[Diff]]] = {
    "dataframe": _compare_dataframe, "series": _compare_series, "ndarray": _compare_ndarray,
    "list": _compare_list, "dict": _compare_dict, "scalar": _compare_scalar,
}


def _dtype_diff(ctx: Ctx, where: str, expected: str, actual: str) -> list[Diff]:
    return [] if expected == actual else [ctx.structural(where, "dtype", f"expected {expected}, got {actual}")]


def _join(parent: str, child: str) -> str:
    if not parent:
        return child
    if child.startswith("["):
        return parent + child
    return f"{parent}.{child}" if child.startswith("items[") else f"{parent} {child}"


def _missing_extra(what: str, expected: list[str], actual: list[str]) -> str:
    """E.g. "missing columns 'a'; extra columns 'b'", or "" when both hold the same labels."""
    parts = []
    exp_set, act_set = set(expected), set(actual)
    for label, names in (("missing", [n for n in expected if n not in act_set]),
                         ("extra", [n for n in actual if n not in exp_set])):
        if names:
            more = f" (+{len(names) - 10} more)" if len(names) > 10 else ""
            parts.append(f"{label} {what} {', '.join(names[:10])}{more}")
    return "; ".join(parts)
