"""Compare a model's predictions ("actual") with recorded predictions ("expected").

Both sides are typed JSON values written by the runner: dicts with a "kind" of
dataframe, series, ndarray, list, dict or scalar. Ints, bools, strings and None compare
exactly (True != 1); floats compare like numpy.isclose with the expected value as the
reference, NaN equals NaN and an infinity only equals itself. Predictions come from
untrusted models, so odd input never raises: it becomes a Diff of kind "kind".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from envforge.errors import UsageError

DEFAULT_RTOL = 1e-5  # same defaults as numpy.allclose
DEFAULT_ATOL = 1e-8

# Worst first: every kind before "value" is structural; "extra" never fails a comparison.
DIFF_KINDS = ("missing", "kind", "shape", "columns", "keys", "length", "dtype", "value", "extra")
_RANK = {kind: rank for rank, kind in enumerate(DIFF_KINDS)}
_MAX_SAMPLES = 5
_ROOT = "prediction"
_INF = math.inf
_PRIMITIVES = (str, int, float, bool, type(None))

_Elem = tuple[bool, "float | None", "float | None"]  # (equal, abs diff, rel diff)


@dataclass(frozen=True)
class Diff:
    example: str
    location: str
    kind: str
    message: str
    mismatched: int
    total: int
    max_abs: float | None = None
    max_rel: float | None = None
    samples: tuple[tuple[str, object, object], ...] = ()

    def to_dict(self) -> dict:
        """JSON-safe form: non-finite floats become "nan", "inf" or "-inf"."""
        fields = {k: getattr(self, k) for k in ("example", "location", "kind", "message",
                                                "mismatched", "total", "max_abs", "max_rel")}
        fields["samples"] = [{"index": i, "expected": e, "actual": a} for i, e, a in self.samples]
        return _jsonable(fields)


@dataclass(frozen=True)
class ExampleComparison:
    example: str
    ok: bool
    diffs: tuple[Diff, ...]

    def to_dict(self) -> dict:
        return {"example": self.example, "ok": self.ok, "diffs": [d.to_dict() for d in self.diffs]}


@dataclass(frozen=True)
class Comparison:
    ok: bool
    examples: tuple[ExampleComparison, ...]
    rtol: float
    atol: float

    @property
    def diffs(self) -> list[Diff]:
        """All diffs of all examples, worst first."""
        return sorted((d for ex in self.examples for d in ex.diffs), key=_severity)

    def summary(self) -> str:
        extras = [ex.example for ex in self.examples if any(d.kind == "extra" for d in ex.diffs)]
        total = len(self.examples) - len(extras)
        failing = [ex for ex in self.examples if not ex.ok]
        if not failing:
            text = f"all {_count(total, 'example')} match (rtol={self.rtol:g}, atol={self.atol:g})"
        else:
            failing.sort(key=lambda ex: _severity(ex.diffs[0]))
            parts = [_brief(ex) for ex in failing[:5]]
            if len(failing) > 5:
                parts.append(f"and {len(failing) - 5} more examples")
            text = f"{len(failing)} of {total} examples differ: " + "; ".join(parts)
        if extras:
            text += f"; {_count(len(extras), 'extra example')} ignored ({', '.join(extras[:5])})"
        return text

    def to_dict(self) -> dict:
        return _jsonable({"ok": self.ok, "rtol": self.rtol, "atol": self.atol,
                          "summary": self.summary(),
                          "examples": [ex.to_dict() for ex in self.examples]})


@dataclass(frozen=True)
class _Ctx:
    example: str
    rtol: float
    atol: float


def compare_values(example: str, expected: dict, actual: dict, *, rtol: float = DEFAULT_RTOL,
                   atol: float = DEFAULT_ATOL) -> ExampleComparison:
    """Compare one example's typed prediction with its recorded one."""
    ctx = _Ctx(str(example), *_check_tolerances(rtol, atol))
    try:
        diffs = _compare_typed(ctx, "", expected, actual)
    except Exception as exc:  # untrusted predictions must never crash the host
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())
        diffs = [_structural(ctx, "", "kind", f"could not compare values ({reason})")]
    diffs = sorted(diffs, key=_severity)
    return ExampleComparison(ctx.example, not any(d.kind != "extra" for d in diffs), tuple(diffs))


def compare(expected: dict[str, dict], actual: dict[str, dict], *, rtol: float = DEFAULT_RTOL,
            atol: float = DEFAULT_ATOL) -> Comparison:
    """Compare every example; a missing example fails, an extra one is reported but passes."""
    rtol, atol = _check_tolerances(rtol, atol)
    expected = expected if isinstance(expected, Mapping) else {}
    actual = actual if isinstance(actual, Mapping) else {}
    examples = []
    for name, value in expected.items():
        if name in actual:
            examples.append(compare_values(name, value, actual[name], rtol=rtol, atol=atol))
        else:
            kind = value.get("kind") if isinstance(value, dict) else None
            diff = _structural(_Ctx(str(name), rtol, atol), "", "missing",
                               f"no prediction for this example; expected a {kind}")
            examples.append(ExampleComparison(str(name), False, (diff,)))
    for name in actual:
        if name not in expected:
            diff = _structural(_Ctx(str(name), rtol, atol), "", "extra",
                               "prediction for an example with no recorded expectation (ignored)")
            examples.append(ExampleComparison(str(name), True, (diff,)))
    return Comparison(all(ex.ok for ex in examples), tuple(examples), rtol, atol)


# --- typed values -------------------------------------------------------------------------

def _compare_typed(ctx: _Ctx, loc: str, e: Any, a: Any) -> list[Diff]:
    for side, value in (("expected", e), ("actual", a)):
        problem = _problem(value)
        if problem:
            return [_structural(ctx, loc, "kind", f"malformed {side} value: {problem}")]
    if e["kind"] != a["kind"]:
        return [_structural(ctx, loc, "kind", f"expected {e['kind']}, got {a['kind']}")]
    return _COMPARERS[e["kind"]](ctx, loc, e, a)


def _problem(v: Any) -> str | None:
    """Why `v` is not a well-formed typed value, or None when it is."""
    if not isinstance(v, dict):
        return f"expected a typed JSON object, got {type(v).__name__}"
    kind = v.get("kind")
    fields = _REQUIRED.get(kind) if isinstance(kind, str) else None
    if fields is None:
        return f"unknown kind {_short(kind)}"
    for field, types in fields.items():
        if not isinstance(v.get(field), types):
            return f"{kind} needs a {'/'.join(t.__name__ for t in types)} field {field!r}"
    if kind == "dataframe":
        cols, dtypes, data = v["columns"], v["dtypes"], v["data"]
        if not (len(cols) == len(dtypes) == len(data) and all(isinstance(d, str) for d in dtypes)
                and all(isinstance(c, _PRIMITIVES) for c in cols)):
            return "dataframe needs as many JSON-scalar column names as dtype strings and data"
        if not all(isinstance(c, list) for c in data) or len({len(c) for c in data}) > 1:
            return "dataframe data must hold one list per column, all equally long"
    if kind == "ndarray" and not all(_is_num(n) and isinstance(n, int) and n >= 0
                                     for n in v["shape"]):
        return "ndarray shape must be a list of non-negative ints"
    return None


_REQUIRED: dict[str, dict[str, tuple[type, ...]]] = {
    "dataframe": {"columns": (list,), "dtypes": (list,), "data": (list,)},
    "series": {"dtype": (str,), "data": (list,), "name": _PRIMITIVES},  # missing name: None
    "ndarray": {"dtype": (str,), "shape": (list,), "data": _PRIMITIVES + (list, dict)},
    "list": {"items": (list,)},
    "dict": {"items": (dict,)},  # JSON object keys are always strings
    "scalar": {"dtype": (str,), "value": _PRIMITIVES + (list, dict)},  # missing value: None
}


def _compare_dataframe(ctx: _Ctx, loc: str, e: dict, a: dict) -> list[Diff]:
    diffs = []
    ekeys, akeys = _column_keys(e["columns"]), _column_keys(a["columns"])
    if ekeys != akeys:
        diffs.append(_columns_diff(ctx, loc, ekeys, akeys))
    erows, arows = (len(e["data"][0]) if e["data"] else 0), (len(a["data"][0]) if a["data"] else 0)
    if erows != arows:
        diffs.append(_structural(ctx, _join(loc, "shape"), "shape",
                                 f"expected {erows} rows, got {arows}"))
    apos = {key: j for j, key in enumerate(akeys)}
    for i, key in enumerate(ekeys):
        j = apos.get(key)
        if j is None:
            continue
        cloc = _join(loc, f"column {_column_label(key)}")
        edt, adt = e["dtypes"][i], a["dtypes"][j]
        diffs += _dtype_diff(ctx, cloc, edt, adt)
        if erows == arows:
            diffs += _compare_seq(ctx, cloc, e["data"][i], a["data"][j], _floaty(edt, adt), None)
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


def _columns_diff(ctx: _Ctx, loc: str, ekeys: list, akeys: list) -> Diff:
    elabels, alabels = [_column_label(k) for k in ekeys], [_column_label(k) for k in akeys]
    message = _missing_extra("columns", elabels, alabels) or (
        f"column order differs: expected {', '.join(elabels)}; got {', '.join(alabels)}")
    return _structural(ctx, _join(loc, "columns"), "columns", message)


def _compare_series(ctx: _Ctx, loc: str, e: dict, a: dict) -> list[Diff]:
    """Like a one-column dataframe; a renamed series still has its values compared."""
    ename, aname = e.get("name"), a.get("name")
    diffs = [] if _same(ename, aname) else [_structural(
        ctx, _join(loc, "columns"), "columns", f"expected name {_short(ename)}, got {_short(aname)}")]
    if len(e["data"]) != len(a["data"]):
        diffs.append(_structural(ctx, _join(loc, "shape"), "shape",
                                 f"expected {len(e['data'])} rows, got {len(a['data'])}"))
    diffs += _dtype_diff(ctx, _join(loc, "dtype"), e["dtype"], a["dtype"])
    if len(e["data"]) == len(a["data"]):
        floaty = _floaty(e["dtype"], a["dtype"])
        diffs += _compare_seq(ctx, _join(loc, "values"), e["data"], a["data"], floaty, None)
    return diffs


def _compare_ndarray(ctx: _Ctx, loc: str, e: dict, a: dict) -> list[Diff]:
    eflat, aflat = _flatten(e["data"], e["shape"]), _flatten(a["data"], a["shape"])
    for side, flat in (("expected", eflat), ("actual", aflat)):
        if flat is None:
            return [_structural(ctx, loc, "kind", f"malformed {side} value: ndarray data does "
                                                  "not match its shape")]
    diffs = _dtype_diff(ctx, _join(loc, "dtype"), e["dtype"], a["dtype"])
    if e["shape"] != a["shape"]:
        return [_structural(ctx, _join(loc, "shape"), "shape",
                            f"expected shape {e['shape']}, got {a['shape']}")] + diffs
    floaty = _floaty(e["dtype"], a["dtype"])
    return diffs + _compare_seq(ctx, _join(loc, "values"), eflat, aflat, floaty, e["shape"])


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


def _compare_list(ctx: _Ctx, loc: str, e: dict, a: dict) -> list[Diff]:
    eitems, aitems = e["items"], a["items"]
    diffs = []
    if len(eitems) != len(aitems):
        diffs.append(_structural(ctx, _join(loc, "length"), "length",
                                 f"expected {len(eitems)} items, got {len(aitems)}"))
    for i, (x, y) in enumerate(zip(eitems, aitems, strict=False)):
        diffs += _compare_typed(ctx, _join(loc, f"[{i}]"), x, y)
    return diffs


def _compare_dict(ctx: _Ctx, loc: str, e: dict, a: dict) -> list[Diff]:
    eitems, aitems = e["items"], a["items"]
    message = _missing_extra("keys", [repr(k) for k in eitems], [repr(k) for k in aitems])
    diffs = [_structural(ctx, _join(loc, "keys"), "keys", message)] if message else []
    for key in eitems:
        if key in aitems:
            diffs += _compare_typed(ctx, _join(loc, f"items[{key!r}]"), eitems[key], aitems[key])
    return diffs


def _compare_scalar(ctx: _Ctx, loc: str, e: dict, a: dict) -> list[Diff]:
    floaty = _floaty(e["dtype"], a["dtype"])
    values = _compare_seq(ctx, _join(loc, "value"), [e.get("value")], [a.get("value")], floaty, [])
    return _dtype_diff(ctx, _join(loc, "dtype"), e["dtype"], a["dtype"]) + values


_COMPARERS: dict[str, Callable[[_Ctx, str, dict, dict], list[Diff]]] = {
    "dataframe": _compare_dataframe, "series": _compare_series, "ndarray": _compare_ndarray,
    "list": _compare_list, "dict": _compare_dict, "scalar": _compare_scalar,
}


def _dtype_diff(ctx: _Ctx, where: str, expected: str, actual: str) -> list[Diff]:
    if expected == actual:
        return []
    return [_structural(ctx, where, "dtype", f"expected {expected}, got {actual}")]


# --- elements -----------------------------------------------------------------------------

def _compare_seq(ctx: _Ctx, loc: str, exp: list, act: list, floaty: bool,
                 shape: list[int] | None) -> list[Diff]:
    """One value Diff for equally long `exp`/`act`; `shape` None means rows of a table."""
    bad = []
    for pos, (e, a) in enumerate(zip(exp, act, strict=True)):
        equal, gap, rel = _elem(ctx, e, a, floaty)
        if not equal:
            bad.append((pos, gap, rel))
    if not bad:
        return []
    gaps = [(gap, -pos) for pos, gap, _ in bad if gap is not None]
    max_abs = max(gaps)[0] if gaps else None
    max_rel = max((rel for _, _, rel in bad if rel is not None), default=None)
    worst = -max(gaps)[1] if gaps else bad[0][0]

    def index(pos: int) -> str:
        return str(pos) if shape is None else _unravel(pos, shape)

    got = f"expected {_short(exp[worst])}, got {_short(act[worst])}"
    if shape == []:
        message = got if max_abs is None else f"{got}; abs diff {_num(max_abs)}, rel {_num(max_rel)}"
    else:
        where = f"row {worst}" if shape is None else index(worst)
        lead = f"{len(bad)} of {len(exp)} values differ; "
        lead += f"first at {where}" if max_abs is None else (
            f"max abs diff {_num(max_abs)} (rel {_num(max_rel)}) at {where}")
        message = f"{lead} ({got})"
    samples = tuple((index(p), _sample(exp[p]), _sample(act[p])) for p, _, _ in bad[:_MAX_SAMPLES])
    return [Diff(ctx.example, loc or _ROOT, "value", message, len(bad), len(exp),
                 max_abs, max_rel, samples)]


def _elem(ctx: _Ctx, e: Any, a: Any, floaty: bool) -> _Elem:
    if _is_num(e) and _is_num(a):
        if floaty or isinstance(e, float) and isinstance(a, float):
            return _close(ctx, e, a)
        return (type(e) is type(a) and e == a), *_gap(e, a)
    if isinstance(e, dict) and isinstance(a, dict) and "kind" in e:
        diffs = _compare_typed(ctx, "", e, a)
        return _combine((False, d.max_abs, d.max_rel) for d in diffs)
    if isinstance(e, list) and isinstance(a, list):
        if len(e) != len(a):
            return False, None, None
        return _combine(_elem(ctx, x, y, floaty) for x, y in zip(e, a, strict=True))
    if isinstance(e, dict) and isinstance(a, dict):
        if list(e) != list(a):
            return False, None, None
        return _combine(_elem(ctx, e[k], a[k], floaty) for k in e)
    return _same(e, a), None, None


def _combine(results: Any) -> _Elem:
    equal, gaps, rels = True, [], []
    for ok, gap, rel in results:
        if not ok:
            equal = False
            gaps += [gap] if gap is not None else []
            rels += [rel] if rel is not None else []
    return equal, max(gaps, default=None), max(rels, default=None)


def _close(ctx: _Ctx, e: int | float, a: int | float) -> _Elem:
    ef, af = _as_float(e), _as_float(a)
    if math.isnan(ef) or math.isnan(af) or math.isinf(ef) or math.isinf(af):
        equal = ef == af or (math.isnan(ef) and math.isnan(af))
        return equal, (None if equal else _INF), (None if equal else _INF)
    gap, rel = _gap(e, a)
    return gap <= ctx.atol + ctx.rtol * abs(ef), gap, rel


def _gap(e: int | float, a: int | float) -> tuple[float, float]:
    """Absolute and relative (to expected) difference, never NaN."""
    try:
        gap = float(abs(a - e))
    except OverflowError:
        gap = _INF
    if math.isnan(gap):
        return _INF, _INF
    ref = abs(_as_float(e))
    rel = gap / ref if ref else (_INF if gap else 0.0)
    return gap, (_INF if math.isnan(rel) else rel)


def _as_float(x: int | float) -> float:
    try:
        return float(x)
    except OverflowError:
        return _INF if x > 0 else -_INF


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _same(e: Any, a: Any) -> bool:
    return type(e) is type(a) and e == a


def _floaty(*dtypes: str) -> bool:
    """Whether any dtype holds floats, so that ints and floats compare numerically."""
    for dtype in dtypes:
        d = dtype.lower().lstrip("<>=|")
        if "float" in d or "double" in d or "complex" in d or (d[:1] in "fc" and d[1:].isdigit()):
            return True
    return False


def _unravel(pos: int, shape: list[int]) -> str:
    idx = []
    for dim in reversed(shape):
        pos, rest = divmod(pos, dim)
        idx.append(rest)
    return "[" + ", ".join(str(i) for i in reversed(idx)) + "]"


# --- helpers ------------------------------------------------------------------------------

def _structural(ctx: _Ctx, loc: str, kind: str, message: str) -> Diff:
    return Diff(ctx.example, loc or _ROOT, kind, message, 1, 1)


def _join(parent: str, child: str) -> str:
    if not parent:
        return child
    if child.startswith("["):
        return parent + child
    return f"{parent}.{child}" if child.startswith("items[") else f"{parent} {child}"


def _severity(d: Diff) -> tuple[int, float, float, float]:
    if d.kind != "value":
        return _RANK.get(d.kind, len(_RANK)), 0.0, 0.0, 0.0
    rel = _INF if d.max_rel is None else d.max_rel
    gap = _INF if d.max_abs is None else d.max_abs
    return _RANK["value"], -rel, -gap, -(d.mismatched / d.total if d.total else 1.0)


def _brief(ex: ExampleComparison) -> str:
    d = ex.diffs[0]
    if d.kind == "value":
        detail = f"{d.mismatched} of {d.total} values"
        detail += "" if d.max_rel is None else f", max rel {_num(d.max_rel)}"
    else:
        detail = d.message
    more = f" +{len(ex.diffs) - 1} more" if len(ex.diffs) > 1 else ""
    return f"{d.example} {d.location} ({detail}){more}"


def _check_tolerances(rtol: float, atol: float) -> tuple[float, float]:
    for name, tol in (("rtol", rtol), ("atol", atol)):
        if not _is_num(tol) or not math.isfinite(tol) or tol < 0:
            raise UsageError(f"{name} must be a finite number >= 0, got {tol!r}.",
                             f"Pass e.g. {name}={DEFAULT_RTOL if name == 'rtol' else DEFAULT_ATOL}.")
    return float(rtol), float(atol)


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


def _short(v: Any, limit: int = 60) -> str:
    text = repr(v)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _sample(v: Any) -> object:
    if isinstance(v, str):
        return v if len(v) <= 200 else v[:197] + "..."
    return v if isinstance(v, _PRIMITIVES) else _short(v, 200)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3g}"


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v if isinstance(v, _PRIMITIVES) else repr(v)
