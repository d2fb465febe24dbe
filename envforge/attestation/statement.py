"""`verify --attest FILE`: the verdict as an in-toto Statement v1 (the format SLSA and Sigstore use).

    {"_type": "https://in-toto.io/Statement/v1",
     "subject": [{"name": "<artifact path>", "digest": {"sha256": "<hex>"}}, ...],   every artifact file of the model
     "predicateType": PREDICATE_TYPE,
     "predicate": {"verdict", "model", "environment" (its exact lock and the lock's digest), "resolution",
                   "sandbox", "tolerances", "inputs" (their digests), "expectations", "envforge", "time"}}

The subjects are the model's bytes (modeldir/digests.py), so `envforge check-attestation FILE URI`
(checking.py) can tell whether the model a deploy step is about to ship is the one that was judged.
The lock digest is spec/lock_digest.py's, the one `envforge lock` prints: verify with `--lock FILE` and
the statement names that file's digest.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from envforge.modeldir.download_digests import current
from envforge.redact import redact
from envforge.result import VerifyResult, now_iso
from envforge.spec import lock_digest
from envforge.version import __version__

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://envforge.dev/attestation/verify/v1"


def _json_sha256(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def subjects(files: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"name": path, "digest": {"sha256": entry["sha256"]}} for path, entry in sorted(files.items())]


def environment(loaded: Any, env: Any) -> dict[str, Any]:
    """The env's exact lock: a lock's packages with their hashes when one was installed (--lock, a stored lock),
    else the built env's installed set (no hashes known); with the canonical digest of that set."""
    if loaded.lock is not None:
        packages, source = lock_digest.from_requirements(loaded.lock.requirements), loaded.lock.source
    else:
        packages, source = lock_digest.from_installed(env.installed), "the installed set of the built environment (no hashes)"
    return {"backend": env.backend, "key": env.key, "python": env.python_version, "reused": env.reused,
            "lock": {"source": source, "digest": lock_digest.digest(packages), "packages": packages}}


def inputs(runs: list[dict[str, Any]], model_dir: Path, files: dict[str, dict[str, Any]], example_path: str | None) -> list[dict[str, Any]]:
    """Each input run, with the sha256 of what was fed: the model's example file, or the input's JSON."""
    out = []
    for run in runs:
        if run.get("source") == "example" and "payload" not in run and example_path in files:
            digest, what = files[str(example_path)]["sha256"], f"the model's file {example_path}"
        else:
            digest, what = _json_sha256(run.get("payload", {k: v for k, v in run.items() if k != "name"})), "its JSON (canonical)"
        out.append({"name": run["name"], "source": run.get("source"), "digest": {"sha256": digest}, "digest_of": what})
    return out


def build_statement(result: VerifyResult, loaded: Any, env: Any, runs: list[dict[str, Any]], judging: Any) -> dict[str, Any]:
    """The statement of one verdict (`loaded`: pipeline.LoadedModel, `env`: backends.base.Env, `judging`: pipeline.Judging)."""
    model_dir = loaded.model.path
    files = current(model_dir, not loaded.model.is_local)
    example = loaded.mlmodel.example.path if loaded.mlmodel.example else None
    predicate = {
        "verdict": {"status": result.status, "exit_code": result.exit_code, "reason": result.reason,
                    "error_kind": (result.error or {}).get("kind")},
        "model": {"uri": redact(result.uri), "source": result.source, "files": len(files),
                  "artifacts_checked": result.artifacts},
        "environment": environment(loaded, env),
        "resolution": {"resolved_as_of": env.resolved_as_of, **(result.resolution or {})},
        "sandbox": result.sandbox,
        "tolerances": {"rtol": judging.rtol, "atol": judging.atol},
        "inputs": inputs(runs, model_dir, files, example),
        "expectations": {"source": redact(result.expectations) if result.expectations else None, "baseline": result.baseline},
        "envforge": {"version": __version__},
        "started_at": result.started_at, "finished_at": result.finished_at, "time": now_iso(),
    }
    return {"_type": STATEMENT_TYPE, "subject": subjects(files), "predicateType": PREDICATE_TYPE, "predicate": predicate}


def write_statement(path: str | Path, result: VerifyResult, loaded: Any, env: Any, runs: list[dict[str, Any]], judging: Any) -> Path:
    """Write the statement to `path` (atomically); the result's `attestation` notes where."""
    target = Path(path).expanduser()
    statement = build_statement(result, loaded, env, runs, judging)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(statement, indent=1, sort_keys=False) + "\n")
    tmp.replace(target)
    result.artifacts = {**(result.artifacts or {}), "attestation": str(target)}
    return target


__all__ = ["PREDICATE_TYPE", "STATEMENT_TYPE", "build_statement", "write_statement"]
