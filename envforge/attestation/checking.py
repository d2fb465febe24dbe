"""`envforge check-attestation FILE URI`: what a deploy step runs. It passes (exit 0) only when the statement
`verify --attest` wrote says PASSED and the model at URI has exactly the attested bytes: the same files, each
with the attested sha256. A remote model is downloaded again (what the server serves now, not the cache's copy).
A file that is not such a statement is a usage error (exit 2), never a pass."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envforge.attestation.statement import PREDICATE_TYPE, STATEMENT_TYPE
from envforge.errors import EXIT_FAILED, EXIT_PASSED, UsageError
from envforge.modeldir.digests import Change, changes, summary
from envforge.modeldir.download_digests import current
from envforge.modeldir.resolve import resolve
from envforge.redact import redact

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_REMEDY = ("Pass the file `envforge verify --attest FILE` wrote (a signed envelope or bundle must be verified with its tool "
           "and the statement taken out of it first).")
MAX_BYTES = 64 << 20


@dataclass(frozen=True)
class AttestationCheck:
    """The answer: ok (exit 0) or not (exit 1), and why."""

    ok: bool
    uri: str
    status: str                    # the attested verdict
    reason: str
    changes: list[Change] = field(default_factory=list)
    files: int = 0

    @property
    def exit_code(self) -> int:
        return EXIT_PASSED if self.ok else EXIT_FAILED

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "uri": redact(self.uri), "status": self.status, "reason": self.reason,
                "files": self.files, "changes": [c.to_dict() for c in self.changes], "exit_code": self.exit_code}


def _malformed(path: Path, what: str) -> UsageError:
    return UsageError(f"{path} is not an envforge attestation: {what}.", _REMEDY)


def load_statement(path: str | Path) -> dict[str, Any]:
    """The statement in `path`, its shape checked (in-toto Statement v1 with envforge's predicate)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UsageError(f"No attestation file at {path}.", "Write one with `envforge verify URI --attest FILE`.")
    if path.stat().st_size > MAX_BYTES:
        raise _malformed(path, f"it is over {MAX_BYTES >> 20} MB")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise _malformed(path, f"it is not JSON ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict) or data.get("_type") != STATEMENT_TYPE:
        raise _malformed(path, f"its `_type` is not {STATEMENT_TYPE}")
    if data.get("predicateType") != PREDICATE_TYPE:
        raise _malformed(path, f"its `predicateType` is {data.get('predicateType')!r}, not {PREDICATE_TYPE}")
    subject = data.get("subject")
    if not isinstance(subject, list) or not subject:
        raise _malformed(path, "it has no `subject` list")
    for entry in subject:
        digest = entry.get("digest") if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not isinstance(digest, dict) \
                or not _HEX64.match(str(digest.get("sha256", ""))):
            raise _malformed(path, "a subject is not {\"name\": PATH, \"digest\": {\"sha256\": 64 hex digits}}")
    verdict = (data.get("predicate") or {}).get("verdict") if isinstance(data.get("predicate"), dict) else None
    if not isinstance(verdict, dict) or not isinstance(verdict.get("status"), str):
        raise _malformed(path, "its predicate has no `verdict.status`")
    return data


def check_attestation(statement: str | Path, uri: str, *, tracking_uri: str | None = None,
                      download_timeout: float | None = 600.0) -> AttestationCheck:
    """Whether the model at `uri` is exactly the attested one and the attested verdict is PASSED.
    Raises UsageError for a malformed statement, ResolveError for a model that cannot be fetched."""
    data = load_statement(statement)
    attested = {s["name"]: {"sha256": s["digest"]["sha256"]} for s in data["subject"]}
    status = data["predicate"]["verdict"]["status"]
    model = resolve(uri, tracking_uri=tracking_uri, timeout=download_timeout, refresh=True)  # what the server serves now
    found = changes(attested, current(model.path, not model.is_local))
    if found:
        return AttestationCheck(False, uri, status, f"the model's files are not the attested ones: {summary(found)}", found, len(attested))
    if status != "passed":
        return AttestationCheck(False, uri, status, f"the attested verdict is {status.upper()}, not PASSED: "
                                                    f"{data['predicate']['verdict'].get('reason') or ''}".rstrip(": "), [], len(attested))
    return AttestationCheck(True, uri, status, f"all {len(attested)} file(s) match the attestation, whose verdict is PASSED",
                            [], len(attested))


__all__ = ["AttestationCheck", "check_attestation", "load_statement"]
