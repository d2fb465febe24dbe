"""`verify`'s check of the model's bytes, before anything is built: the files downloaded must be the ones
`record` recorded against (modeldir/digests.py). Agreement on a few input examples does not prove that
a model is the one that was recorded; its sha256 digests do.

- digests recorded and every file matches: the verification goes on (and result.artifacts says so);
- a file changed, missing or added: FAILED, error kind `artifact-changed`, each file named with both digests;
- expectations recorded before digests were: a PASSED verdict becomes UNVERIFIED, saying why (settle).
A cached download that was downloaded again because it had been altered on disk is reported as a warning.
"""

from __future__ import annotations

from envforge.errors import EXIT_FAILED
from envforge.modeldir.digests import changes, summary
from envforge.modeldir.download_digests import current
from envforge.modeldir.expectations import Expectations
from envforge.modeldir.resolve import ModelDir
from envforge.result import FAILED, PASSED, UNVERIFIED, VerifyResult

KIND = "artifact-changed"
NO_DIGESTS = ("the expectations were recorded without the model files' digests (by an older `envforge record`), so the "
              "model's bytes could not be checked: run `envforge record` again to store them")


def check_artifacts(result: VerifyResult, model: ModelDir, expected: Expectations | None) -> VerifyResult | None:
    """The finished FAILED result when the model's files are not the recorded ones; None to go on."""
    if model.cache_note:
        result.warnings.append(f"{model.cache_note}: the model was downloaded again")
    if expected is None:
        return None
    if expected.artifacts is None:
        result.artifacts = {"verified": False, "reason": NO_DIGESTS, "changes": [], "redownloaded": model.cache_note}
        return None
    found = changes(expected.artifacts, current(model.path, not model.is_local))
    result.artifacts = {"verified": not found, "files": len(expected.artifacts), "changes": [c.to_dict() for c in found],
                        "redownloaded": model.cache_note}
    if not found:
        return None
    message = f"The model's files are not the ones its expectations were recorded against: {summary(found)}."
    result.expectations, result.baseline = expected.source, dict(expected.baseline)
    result.error = {"kind": KIND, "message": message,
                    "remedy": "Find out who replaced the artifacts: if the new model is intended, record it again with "
                              "`envforge record`; otherwise restore the recorded one."}
    return result.finish(FAILED, f"artifact changed: {summary(found, 3)}")


def settle(result: VerifyResult, expected: Expectations | None, require_expected: bool = False) -> VerifyResult:
    """A PASSED verdict on expectations without digests is UNVERIFIED: the bytes it ran were never checked."""
    if result.status == PASSED and expected is not None and expected.artifacts is None:
        result.finish(UNVERIFIED, f"{result.reason}, but {NO_DIGESTS}", EXIT_FAILED if require_expected else None)
    return result


__all__ = ["KIND", "NO_DIGESTS", "check_artifacts", "settle"]
