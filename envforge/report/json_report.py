"""--json FILE: the result as JSON (strict JSON: NaN and infinities become strings)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from envforge.redact import redact
from envforge.result import VerifyResult
from envforge.version import __version__

SCHEMA_VERSION = 2  # 2: schema_version, started_at/finished_at, model (what the URI resolved to), steps[].failed


def write_json(results: list[VerifyResult], path: Path) -> None:
    """The document envforge/report/schema.json describes (tests/test_report_schema.py validates every kind)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document(results), indent=2, allow_nan=False))


def document(results: list[VerifyResult]) -> dict[str, Any]:
    started = min((r.started_at for r in results), default=None)
    finished = max((r.finished_at or r.started_at for r in results), default=None)
    return {"schema_version": SCHEMA_VERSION, "envforge_version": __version__, "started_at": started,
            "finished_at": finished, "results": [_strict(r.to_dict()) for r in results]}


def _strict(value: Any) -> Any:
    """Strict JSON, and no credentials: every string goes through redact (messages quote URLs and commands)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value
