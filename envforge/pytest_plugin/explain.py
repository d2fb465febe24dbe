"""What one pytest item says about one example of a VerifyResult: pass, skip (unverified) or a failure text
a CI log reader understands without the JSON report: which model and example, which rows or columns differ,
expected vs got, and the environment it ran in. Pure functions of envforge's result objects (no pytest here),
so that the wording is tested without running pytest."""

from __future__ import annotations

from dataclasses import dataclass

from envforge.compare.results import Diff, ExampleComparison, short
from envforge.errors import EXIT_DRIFT, EXIT_WARNINGS
from envforge.redact import redact
from envforge.report import verdict_lines
from envforge.result import ERROR, PASSED, UNVERIFIED, VerifyResult

MAX_DIFFS = 10  # per example; the rest are counted
PASS, SKIP, FAIL = "pass", "skip", "fail"


@dataclass(frozen=True)
class Verdict:
    outcome: str  # PASS, SKIP or FAIL
    text: str = ""


def for_example(result: VerifyResult, example: str) -> Verdict:
    """The verdict of `example`: its own comparison when there is one, else the model's verdict (an env that
    was not built, a model that did not load and no expectations concern every example alike)."""
    if result.status == UNVERIFIED and not result.ok:  # require_expected: unverified exits 1
        return Verdict(FAIL, _whole(result, example))
    if result.status == UNVERIFIED:
        return Verdict(SKIP, f"{redact(result.uri)}: {redact(result.reason)} (--envforge-require-expected makes this a failure)")
    if result.status == ERROR or result.exit_code in (EXIT_DRIFT, EXIT_WARNINGS):  # --envforge-fail-on: every example
        return Verdict(FAIL, _whole(result, example))
    found = _example(result, example)
    if found is not None:
        return Verdict(PASS) if found.ok else Verdict(FAIL, example_text(result, found))
    return Verdict(PASS) if result.status == PASSED else Verdict(FAIL, _whole(result, example))


def _example(result: VerifyResult, example: str) -> ExampleComparison | None:
    if result.comparison is None:
        return None
    return next((ex for ex in result.comparison.examples if ex.example == example), None)


def example_text(result: VerifyResult, ex: ExampleComparison) -> str:
    assert result.comparison is not None
    failing = [d for d in ex.diffs if d.kind != "extra"]
    lines = [f"envforge: {redact(result.uri)}, example {ex.example!r}: the predictions differ from the recorded ones "
             f"(rtol={result.comparison.rtol:g}, atol={result.comparison.atol:g})"]
    for diff in failing[:MAX_DIFFS]:
        lines += diff_lines(diff)
    if len(failing) > MAX_DIFFS:
        lines.append(f"  ... and {len(failing) - MAX_DIFFS} more differences (envforge verify --json FILE lists them all)")
    return "\n".join(lines + _context(result))


def diff_lines(diff: Diff) -> list[str]:
    """`where [kind]: message`, then up to five `index: expected X, got Y` rows."""
    lines = [f"  {diff.location} [{diff.kind}]: {diff.message}"]
    for index, expected, actual in diff.samples[:5]:
        where = f"row {index}" if str(index).isdigit() else str(index)  # frames and series: a row; arrays: [i, j]
        lines.append(f"      {where}: expected {short(expected)}, got {short(actual)}")
    return lines


def _whole(result: VerifyResult, example: str) -> str:
    """A failure of the whole model, shown on each of its examples."""
    lines = [f"envforge: {redact(result.uri)}, example {example!r}: {result.status.upper()}: {redact(result.reason)}"]
    error = result.model_error
    if error:
        where = f" on {error['example']!r}" if error.get("example") else ""
        lines.append(f"  model error ({error.get('stage')}{where}): {error.get('type')}: {redact(str(error.get('message')))}")
        trace = str(error.get("traceback") or "").strip().splitlines()
        lines += ["    " + line for line in trace[-12:]]
    if result.error:
        lines.append(f"  error: {redact(result.error.get('message', ''))}")
        if result.error.get("remedy"):
            lines.append(f"  fix: {result.error['remedy']}")
    if result.comparison is not None and not result.comparison.ok:
        lines.append(f"  {result.comparison.summary()}")
    return "\n".join(lines + _context(result))


def _context(result: VerifyResult) -> list[str]:
    lines = []
    if result.python_version:
        lines.append(f"  env: {result.backend}, python {result.python_version}, "
                     f"{'reused' if result.env_reused else 'built'} at {result.env_path}")
    if result.expectations:
        lines.append(f"  expectations: {redact(result.expectations)}")
    lines += [f"  warning: {redact(w)}" for w in result.warnings]
    lines += [f"  {line}" for line in verdict_lines.extra_lines(result)]  # env rebuilt, drift, the model's warnings
    return lines


def properties(result: VerifyResult) -> list[tuple[str, str]]:
    """What each item adds to pytest's JUnit <properties>: the model's verdict and where it ran."""
    found = [("envforge.uri", redact(result.uri)), ("envforge.status", result.status), ("envforge.backend", result.backend),
             ("envforge.seconds", f"{result.seconds:.3f}")]
    found += [(f"envforge.{k}", str(v)) for k, v in (("env_key", result.env_key), ("python", result.python_version)) if v]
    found += verdict_lines.properties(result, "envforge.")
    return found


__all__ = ["FAIL", "PASS", "SKIP", "Verdict", "diff_lines", "example_text", "for_example", "properties"]
