"""envforge: prove that a logged MLflow model still works when its environment is rebuilt."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from envforge.version import __version__

if TYPE_CHECKING:
    from envforge.attestation.checking import AttestationCheck
    from envforge.commands.record import RecordResult
    from envforge.result import VerifyResult


def verify(uri: str, **options: Any) -> VerifyResult:
    """Rebuild the model's environment, run its input examples, compare with the recorded predictions.

    Options: backend="uv", tracking_uri, expected, require_expected, inputs, rtol, atol, refresh,
    predict_timeout, python, python_match, allow_python_download, offline, timeout, progress,
    resolve ("logged", "latest" or "YYYY-MM-DD[THH:MM:SSZ]": as of when unpinned requirements resolve; default logged);
    for backend="conda": channels (a tuple of channel URLs), lockfile (a conda-lock file), conda_exe.
    Returns a VerifyResult (status, exit_code, reason, comparison, steps, ...); never raises for
    a bad model or a failed build: those are in the result.
    """
    from envforge.commands.verify import verify as _verify

    return _verify(uri, **options)


def record(uri: str, **options: Any) -> RecordResult:
    """Run the model in the current environment and store its predictions next to it."""
    from envforge.commands.record import record as _record

    return _record(uri, **options)


def check_attestation(statement: str, uri: str, **options: Any) -> AttestationCheck:
    """Whether the model at `uri` has exactly the files a `verify --attest` statement names and the statement
    says PASSED (`.ok`, `.exit_code`, `.changes`); options: tracking_uri, download_timeout. Raises
    envforge.errors.UsageError for a file that is not such a statement."""
    from envforge.attestation.checking import check_attestation as _check

    return _check(statement, uri, **options)


__all__ = ["__version__", "check_attestation", "record", "verify"]
