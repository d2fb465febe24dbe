"""`--fail-on drift,warnings`: a deployment gate's choice to fail a verdict that passed on what it carries.

A PASSED (or unverified, exit 0) verdict becomes FAILED with its own exit code when the gate asks for it and
the result has it: `drift` (packages of the rebuilt env differ from the training env: EXIT_DRIFT) or `warnings`
(the model's process warned while loading or predicting: EXIT_WARNINGS). Drift is looked at first. A verdict
that already failed keeps its own reason and exit code.
"""

from __future__ import annotations

from envforge.errors import EXIT_DRIFT, EXIT_PASSED, EXIT_WARNINGS, UsageError
from envforge.result import FAILED, VerifyResult

CHOICES = ("drift", "warnings")


def parse_fail_on(text: str | None) -> tuple[str, ...]:
    """`drift,warnings` -> ("drift", "warnings"); an unknown word is a UsageError naming the choices."""
    words = tuple(dict.fromkeys(w.strip().lower() for w in (text or "").split(",") if w.strip()))
    unknown = [w for w in words if w not in CHOICES]
    if unknown:
        raise UsageError(f"--fail-on {text}: unknown {', '.join(repr(w) for w in unknown)}.",
                         f"Choose from {', '.join(CHOICES)} (comma-separated), e.g. --fail-on drift,warnings.")
    return words


def apply(result: VerifyResult, fail_on: tuple[str, ...] | list[str]) -> VerifyResult:
    """Fail a passing result on what the gate names (see module doc); returns the result."""
    if not fail_on or result.exit_code != EXIT_PASSED:
        return result
    drift = result.drift or {}
    if "drift" in fail_on and drift.get("count"):
        return result.finish(FAILED, f"--fail-on drift: {drift.get('summary')} (predictions: {result.reason})", EXIT_DRIFT)
    if "warnings" in fail_on and result.model_warnings:
        first = result.model_warnings[0]
        more = f" (+{len(result.model_warnings) - 1} more)" if len(result.model_warnings) > 1 else ""
        return result.finish(FAILED, f"--fail-on warnings: the model's process warned: {first}{more} (predictions: {result.reason})",
                             EXIT_WARNINGS)
    return result


def run_exit_code(codes: list[int]) -> int:
    """A run of many verdicts: 0 when all passed, the gate's code when every failure is that one gate's, else 1."""
    bad = {code for code in codes if code != EXIT_PASSED}
    if not bad:
        return EXIT_PASSED
    return bad.pop() if len(bad) == 1 and bad <= {EXIT_DRIFT, EXIT_WARNINGS} else 1
