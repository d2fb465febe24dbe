"""Comparison results: Diff, ExampleComparison and Comparison, worst-first ordering,
one-line summaries and JSON-safe forms."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

DEFAULT_RTOL = 1e-5  # same defaults as numpy.allclose
DEFAULT_ATOL = 1e-8

# Worst first: every kind before "value" is structural; "extra" never fails a comparison.
DIFF_KINDS = ("missing", "kind", "shape", "columns", "keys", "length", "dtype", "value", "extra")
_RANK = {kind: rank for rank, kind in enumerate(DIFF_KINDS)}
ROOT = "prediction"  # the location of a whole prediction
PRIMITIVES = (str, int, float, bool, type(None))


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
        return sorted((d for ex in self.examples for d in ex.diffs), key=severity)

    def summary(self) -> str:
        extras = [ex.example for ex in self.examples if any(d.kind == "extra" for d in ex.diffs)]
        total = len(self.examples) - len(extras)
        failing = [ex for ex in self.examples if not ex.ok]
        if not failing:
            text = f"all {_count(total, 'example')} match (rtol={self.rtol:g}, atol={self.atol:g})"
        else:
            failing.sort(key=lambda ex: severity(ex.diffs[0]))
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


def severity(d: Diff) -> tuple[int, float, float, float]:
    """Sort key, worst first: structural kinds by rank, then values by rel, abs and share."""
    if d.kind != "value":
        return _RANK.get(d.kind, len(_RANK)), 0.0, 0.0, 0.0
    rel = math.inf if d.max_rel is None else d.max_rel
    gap = math.inf if d.max_abs is None else d.max_abs
    return _RANK["value"], -rel, -gap, -(d.mismatched / d.total if d.total else 1.0)


def _brief(ex: ExampleComparison) -> str:
    d = ex.diffs[0]
    if d.kind == "value":
        detail = f"{d.mismatched} of {d.total} values"
        detail += "" if d.max_rel is None else f", max rel {num(d.max_rel)}"
    else:
        detail = d.message
    more = f" +{len(ex.diffs) - 1} more" if len(ex.diffs) > 1 else ""
    return f"{d.example} {d.location} ({detail}){more}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3g}"


def short(v: Any, limit: int = 60) -> str:
    text = repr(v)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v if isinstance(v, PRIMITIVES) else repr(v)
