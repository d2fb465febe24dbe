"""Element comparison: ints, bools, strings and None compare exactly (True != 1); floats
compare like numpy.isclose with the expected value as the reference, NaN equals NaN and an
infinity only equals itself. Mismatches of one sequence become a single "value" Diff."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from envforge.compare.results import DEFAULT_ATOL, DEFAULT_RTOL, PRIMITIVES, ROOT, Diff, num, short
from envforge.errors import UsageError

_MAX_SAMPLES = 5

_Elem = tuple[bool, "float | None", "float | None"]  # (equal, abs diff, rel diff)


@dataclass(frozen=True)
class Ctx:
    """The example being compared and the tolerances to compare it with."""

    example: str
    rtol: float
    atol: float
    # How a typed value nested inside an element is compared (structures.compare_typed): passed in, so that
    # this module, which structures.py builds on, does not import it back.
    nested: Callable[[Ctx, str, Any, Any], list[Diff]] | None = None

    def structural(self, loc: str, kind: str, message: str) -> Diff:
        return Diff(self.example, loc or ROOT, kind, message, 1, 1)


def check_tolerances(rtol: float, atol: float) -> tuple[float, float]:
    for name, tol, default in (("rtol", rtol, DEFAULT_RTOL), ("atol", atol, DEFAULT_ATOL)):
        if not is_num(tol) or not math.isfinite(tol) or tol < 0:
            raise UsageError(f"{name} must be a finite number >= 0, got {tol!r}.", f"Pass e.g. {name}={default}.")
    return float(rtol), float(atol)


def compare_seq(ctx: Ctx, loc: str, exp: list, act: list, floaty: bool,
                shape: list[int] | None) -> list[Diff]:
    """One value Diff for equally long `exp`/`act`; `shape` None means rows of a table."""
    bad = []
    for pos, (e, a) in enumerate(zip(exp, act, strict=True)):
        equal, gap, rel = _elem(ctx, e, a, floaty)
        if not equal:
            bad.append((pos, gap, rel))
    if not bad:
        return []
    # The worst element has the largest abs diff (the first one on ties), else it is the first.
    worst, max_abs = max(((pos, gap) for pos, gap, _ in bad if gap is not None),
                         key=lambda pos_gap: pos_gap[1], default=(bad[0][0], None))
    max_rel = max((rel for _, _, rel in bad if rel is not None), default=None)

    def index(pos: int) -> str:
        return str(pos) if shape is None else _unravel(pos, shape)

    got = f"expected {short(exp[worst])}, got {short(act[worst])}"
    if shape == []:
        message = got if max_abs is None else f"{got}; abs diff {num(max_abs)}, rel {num(max_rel)}"
    else:
        where = f"row {worst}" if shape is None else index(worst)
        lead = f"{len(bad)} of {len(exp)} values differ; "
        lead += f"first at {where}" if max_abs is None else (
            f"max abs diff {num(max_abs)} (rel {num(max_rel)}) at {where}")
        message = f"{lead} ({got})"
    samples = tuple((index(p), _sample(exp[p]), _sample(act[p])) for p, _, _ in bad[:_MAX_SAMPLES])
    return [Diff(ctx.example, loc or ROOT, "value", message, len(bad), len(exp),
                 max_abs, max_rel, samples)]


def _elem(ctx: Ctx, e: Any, a: Any, floaty: bool) -> _Elem:
    if is_num(e) and is_num(a):
        if floaty or isinstance(e, float) and isinstance(a, float):
            return _close(ctx, e, a)
        return same(e, a), *_gap(e, a)
    if isinstance(e, dict) and isinstance(a, dict) and "kind" in e:
        if ctx.nested is None:
            return same(e, a), None, None
        return _combine((False, d.max_abs, d.max_rel) for d in ctx.nested(ctx, "", e, a))
    if isinstance(e, list) and isinstance(a, list):
        if len(e) != len(a):
            return False, None, None
        return _combine(_elem(ctx, x, y, floaty) for x, y in zip(e, a, strict=True))
    if isinstance(e, dict) and isinstance(a, dict):
        if list(e) != list(a):
            return False, None, None
        return _combine(_elem(ctx, e[k], a[k], floaty) for k in e)
    return same(e, a), None, None


def _combine(results: Any) -> _Elem:
    bad = [(gap, rel) for ok, gap, rel in results if not ok]
    return (not bad, max((gap for gap, _ in bad if gap is not None), default=None),
            max((rel for _, rel in bad if rel is not None), default=None))


def _close(ctx: Ctx, e: int | float, a: int | float) -> _Elem:
    ef, af = _as_float(e), _as_float(a)
    if not (math.isfinite(ef) and math.isfinite(af)):
        equal = ef == af or (math.isnan(ef) and math.isnan(af))
        return equal, (None if equal else math.inf), (None if equal else math.inf)
    gap, rel = _gap(e, a)
    return gap <= ctx.atol + ctx.rtol * abs(ef), gap, rel


def _gap(e: int | float, a: int | float) -> tuple[float, float]:
    """Absolute and relative (to expected) difference, never NaN."""
    try:
        gap = float(abs(a - e))
    except OverflowError:
        gap = math.inf
    if math.isnan(gap):
        return math.inf, math.inf
    ref = abs(_as_float(e))
    rel = gap / ref if ref else (math.inf if gap else 0.0)
    return gap, (math.inf if math.isnan(rel) else rel)


def _as_float(x: int | float) -> float:
    try:
        return float(x)
    except OverflowError:
        return math.inf if x > 0 else -math.inf


def is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def same(e: Any, a: Any) -> bool:
    return type(e) is type(a) and e == a


def holds_floats(*dtypes: str) -> bool:
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


def _sample(v: Any) -> object:
    if isinstance(v, str):
        return v if len(v) <= 200 else v[:197] + "..."
    return v if isinstance(v, PRIMITIVES) else short(v, 200)
