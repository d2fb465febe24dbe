"""A verification's outcome as data: every report format serializes this one object."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from envforge.compare import Comparison
from envforge.errors import EXIT_ENV, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_PASSED, EXIT_USAGE, EnvforgeError

PASSED, FAILED, UNVERIFIED, ERROR = "passed", "failed", "unverified", "error"
INTERRUPTED = "interrupted"  # Ctrl-C cut it short: no verdict on the model (registry/interruption.py)


def now_iso() -> str:
    """The time now as ISO 8601 in UTC, to the second: what every report writes."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Step:
    name: str
    seconds: float
    detail: str = ""
    failed: bool = False  # the step raised: the progress rows mark it


@dataclass
class VerifyResult:
    uri: str
    backend: str
    status: str = ERROR
    exit_code: int = EXIT_USAGE
    reason: str = ""
    model_dir: str | None = None
    env_key: str | None = None
    env_path: str | None = None
    env_reused: bool | None = None
    python_version: str | None = None
    logged_python: str | None = None
    interpreter_reason: str | None = None  # which host interpreter the env was built from, and why
    runner_python: str | None = None       # the version the runner reported from inside the env
    image: dict[str, Any] | None = None    # container backends: the images used and kept (--tag)
    sandbox: dict[str, Any] | None = None  # what confined the model: network, home, limits (execution/sandbox.py)
    expectations: str | None = None
    expectations_origin: str | None = None  # server / local / file / unstored (modeldir/unstored.py, issue 31)
    baseline: dict[str, Any] | None = None  # where the expectations were recorded (modeldir/expectations.py)
    steps: list[Step] = field(default_factory=list)
    examples: list[dict[str, Any]] = field(default_factory=list)
    comparison: Comparison | None = None
    model_error: dict[str, Any] | None = None
    error: dict[str, str] | None = None
    warnings: list[str] = field(default_factory=list)
    resolution: dict[str, Any] | None = None  # asof.AsOf.to_dict(): as of when requirements were resolved, and why
    runtime_profile: dict[str, Any] | None = None  # spec/runtime_profiles.Applied.to_dict()
    source: dict[str, Any] | None = None  # what the URI resolved to: run id, logged model id, name/version, tracking URI
    artifacts: dict[str, Any] | None = None  # the model's bytes against the recorded digests (commands/artifact_gate.py)
    env_shared_by_resolution: str | None = None  # this model's own env key, when it uses another's: same resolution (building/same_resolution.py)
    env_rebuilt_because: str | None = None  # a cached env was unusable (damaged: store/env_check.py) and rebuilt: why
    drift: dict[str, Any] | None = None  # packages that differ from the training env (report/drift_summary.py)
    model_warnings: list[str] = field(default_factory=list)  # what the model's process warned while loading/predicting
    started_at: str = field(default_factory=now_iso)
    finished_at: str | None = None  # set by finish(): every verdict goes through it

    @property
    def ok(self) -> bool:
        return self.exit_code == EXIT_PASSED

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.steps)

    def finish(self, status: str, reason: str, exit_code: int | None = None) -> VerifyResult:
        self.status, self.reason, self.finished_at = status, reason, now_iso()
        default = {PASSED: EXIT_PASSED, UNVERIFIED: EXIT_PASSED, FAILED: EXIT_FAILED, ERROR: EXIT_ENV, INTERRUPTED: EXIT_INTERRUPTED}[status]
        self.exit_code = default if exit_code is None else exit_code
        return self

    @classmethod
    def from_error(cls, uri: str, backend: str, exc: EnvforgeError) -> VerifyResult:
        """A new result that ends with `exc` (see error_from)."""
        return cls(uri=uri, backend=backend).error_from(exc)

    def error_from(self, exc: EnvforgeError) -> VerifyResult:
        """End this result with an envforge error: the one mapping of an error to a verdict. An error whose exit
        code says the model failed (ModelRunError) is `failed`; any other (a bad model directory, an env that
        could not be built) is `error`, with the error's own exit code."""
        self.error = {"kind": type(exc).__name__, "message": exc.message, "remedy": exc.remedy}
        return self.finish(FAILED if exc.exit_code == EXIT_FAILED else ERROR, exc.message.splitlines()[0], exc.exit_code)

    def to_dict(self) -> dict[str, Any]:
        return {
            "uri": self.uri, "status": self.status, "exit_code": self.exit_code, "reason": self.reason,
            "backend": self.backend, "model_dir": self.model_dir, "model": self.source,
            "started_at": self.started_at, "finished_at": self.finished_at,
            "env": {"key": self.env_key, "path": self.env_path, "reused": self.env_reused,
                    "python": self.python_version, "logged_python": self.logged_python,
                    "interpreter": self.interpreter_reason, "runner_python": self.runner_python,
                    "resolved_as_of": (self.resolution or {}).get("moment"), "resolution": self.resolution,
                    "runtime_profile": self.runtime_profile,
                    "rebuilt_because": self.env_rebuilt_because, "own_key": self.env_shared_by_resolution},
            "drift": self.drift, "model_warnings": self.model_warnings,
            "expectations": self.expectations, "expectations_origin": self.expectations_origin, "baseline": self.baseline,
            "expectations_kind": (self.baseline or {}).get("kind"),
            "steps": [{"name": s.name, "seconds": round(s.seconds, 3), "detail": s.detail, "failed": s.failed} for s in self.steps],
            "seconds": round(self.seconds, 3),
            "examples": self.examples,
            "comparison": self.comparison.to_dict() if self.comparison else None,
            "image": self.image, "sandbox": self.sandbox, "model_error": self.model_error, "error": self.error, "warnings": self.warnings,
            "artifacts": self.artifacts,
        }


__all__ = ["PASSED", "FAILED", "UNVERIFIED", "ERROR", "INTERRUPTED", "EXIT_FAILED", "EXIT_USAGE", "Step", "VerifyResult"]
