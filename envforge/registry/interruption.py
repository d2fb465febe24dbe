"""What Ctrl-C makes of a model version that had not finished: INTERRUPTED, never a verdict on the model.

One place classifies it, so every report says the same: the result's status is `interrupted` (not `failed` or
`error`: nothing about the model was learned), its error kind `Interrupted`, its exit code 130; the console prints
INTERRUPTED, the JSON `"status": "interrupted"`, the JUnit case is skipped with `type="interrupted"`, the HTML row
`data-status='interrupted'`. A runner or build that the stop killed (exit -9) is not the model's failure."""

from __future__ import annotations

from envforge.errors import EXIT_INTERRUPTED
from envforge.result import INTERRUPTED as STATUS
from envforge.result import VerifyResult

REASON = "interrupted before it finished (Ctrl-C)"
REMEDY = "Run verify-registry again."
KIND = "Interrupted"


def mark(result: VerifyResult) -> VerifyResult:
    """End `result` as interrupted, whatever it said before."""
    result.error = {"kind": KIND, "message": REASON, "remedy": REMEDY}
    result.model_error = None
    result.comparison = None
    return result.finish(STATUS, REASON, EXIT_INTERRUPTED)


def new(uri: str, backend: str) -> VerifyResult:
    """A result for a version whose work never started before the stop."""
    return mark(VerifyResult(uri=uri, backend=backend))


def unfinished(result: VerifyResult) -> bool:
    """After a stop: never judged, or its build or its runner was killed by the stop (so its error is the stop's)."""
    steps = {s.name for s in result.steps}
    killed = ("build" in steps and "predict" not in steps) or result.reason.startswith("the model failed to load: RunnerError")
    return result.status == STATUS or not result.reason or killed


def settle(result: VerifyResult, stopped: bool) -> VerifyResult:
    """The one classification: a result judged or ended after the stop, that the stop cut short, is interrupted."""
    if stopped and unfinished(result):
        mark(result)
    return result


def is_interrupted(result: VerifyResult) -> bool:
    return result.status == STATUS
