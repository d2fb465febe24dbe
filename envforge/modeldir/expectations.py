"""Recorded predictions: what the model answered in its training environment.

`envforge record` writes them as envforge-expectations.json next to the model; `verify` reads
that file, or the one named by --expected (a path or an MLflow artifact URI). Its `baseline` says
where they were recorded: `{"kind": "training environment"}` (a file without the field is one), or
`{"kind": "as-logged rebuild", "resolved_as_of": ...}` (`record --resolve`, `verify-registry
--record-missing`: a rebuilt env, not the one the model was trained in); every report names it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envforge.bounds import limits
from envforge.bounds.parsing import load_json
from envforge.errors import ModelDirError, ResolveError

FILENAME = "envforge-expectations.json"
FORMAT = 1
TRAINING = "training environment"


@dataclass(frozen=True)
class Expectations:
    source: str
    examples: tuple[dict[str, Any], ...]   # {"name", "payload"?, "prediction"}
    python: str | None
    freeze: tuple[dict[str, str], ...]
    recorded_at: str | None
    baseline: dict[str, Any] = field(default_factory=lambda: {"kind": TRAINING})  # where they were recorded
    artifacts: dict[str, dict[str, Any]] | None = None  # modeldir/digests.py: the model's files when recorded (None: older record)

    @property
    def kind(self) -> str:
        return str(self.baseline.get("kind") or TRAINING)

    def describe(self) -> str:
        """`the training environment` or `an as-logged rebuild (resolved as of ...)`: for reasons and console lines."""
        return describe(self.baseline)

    def predictions(self) -> dict[str, dict[str, Any]]:
        return {e["name"]: e["prediction"] for e in self.examples}

    def runner_examples(self) -> list[dict[str, Any]]:
        """The examples to feed the runner so that it predicts on the recorded inputs."""
        return [{k: v for k, v in e.items() if k != "prediction"} for e in self.examples]


def find(model_dir: Path) -> Path | None:
    path = model_dir / FILENAME
    return path if path.is_file() else None


def load(location: str | Path, *, tracking_uri: str | None = None) -> Expectations:
    path = Path(location)
    if not path.exists() and ":" in str(location) and not Path(str(location)).drive:
        path = _download(str(location), tracking_uri)
    if path.is_dir():
        path = path / FILENAME
    if not path.is_file():
        raise ResolveError(f"No expectations file at {location}.", "Run `envforge record` first, or pass the right --expected path.")
    remedy = "Re-create it with `envforge record`."
    text = limits.read_bounded(path, "json", where=f"The expectations file {path}", remedy=remedy)
    try:
        data = load_json(text, f"The expectations file {path}", ModelDirError, remedy)
    except ValueError as exc:
        raise ModelDirError(f"The expectations file {path} is not valid JSON ({exc}).", "Re-create it with `envforge record`.") from None
    examples = data.get("examples") if isinstance(data, dict) else None
    if not isinstance(examples, list) or not all(isinstance(e, dict) and isinstance(e.get("name"), str) and "prediction" in e
                                                   for e in examples):
        raise ModelDirError(f"The expectations file {path} has no valid `examples` list.", "Re-create it with `envforge record`.")
    return Expectations(
        source=str(location), examples=tuple(examples), python=data.get("python"),
        freeze=tuple(data.get("freeze") or ()), recorded_at=data.get("recorded_at"),
        baseline=_baseline(data.get("baseline")), artifacts=_artifacts(data.get("artifacts"), path),
    )


def _artifacts(value: Any, path: Path) -> dict[str, dict[str, Any]] | None:
    """The stored artifact digests; None for a file written before `record` stored them."""
    from envforge.modeldir.digests import valid

    if value is None:
        return None
    if not valid(value):
        raise ModelDirError(f"The expectations file {path} has a malformed `artifacts` field (the model files' digests).",
                            "Re-create it with `envforge record`.")
    return dict(value)


def _baseline(value: Any) -> dict[str, Any]:
    """The stored `baseline` field; files written before it existed were recorded in the training environment."""
    if isinstance(value, dict) and isinstance(value.get("kind"), str) and value["kind"]:
        return dict(value)
    return {"kind": TRAINING}


def describe(baseline: dict[str, Any] | None) -> str:
    kind = str((baseline or {}).get("kind") or TRAINING)
    if kind == TRAINING:
        return "the training environment"
    moment = (baseline or {}).get("resolved_as_of")
    article = "an" if kind[:1] in "aeiou" else "a"
    return f"{article} {kind}" + (f" (resolved as of {moment})" if moment else " (resolved against today's index)")


def build(examples: list[dict[str, Any]], runner_data: dict[str, Any], envforge_version: str,
          baseline: dict[str, Any] | None = None, *, model_dir: Path) -> dict[str, Any]:
    """The expectations document for examples that all predicted successfully; `baseline` says where
    they were recorded (default: the training environment). Every document carries the digests of the model files
    it was recorded against (modeldir/digests.py): verify checks the model's bytes against them first."""
    import datetime

    from envforge.modeldir.digests import digest_dir

    predictions = {e["name"]: e["prediction"] for e in runner_data.get("examples", []) if e.get("ok")}
    return {
        "format": FORMAT,
        "envforge_version": envforge_version,
        "recorded_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": runner_data.get("python"),
        "mlflow_version": runner_data.get("mlflow_version"),
        "freeze": runner_data.get("freeze", []),
        "baseline": dict(baseline or {"kind": TRAINING}),
        "examples": [{**e, "prediction": predictions[e["name"]]} for e in examples],
        "artifacts": digest_dir(model_dir),
    }


def _download(uri: str, tracking_uri: str | None) -> Path:
    import os

    import mlflow.artifacts

    from envforge.modeldir.resolve import tracking_scope

    tracking = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or mlflow.get_tracking_uri()
    try:
        with tracking_scope(tracking):
            return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, tracking_uri=tracking))
    except Exception as exc:  # MLflow raises many types here
        raise ResolveError(f"Could not download the expectations {uri}: {str(exc).splitlines()[0] if str(exc) else exc}.",
                           "Check the URI and --tracking-uri.") from None
