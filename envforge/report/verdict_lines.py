"""The lines every report shows besides a verdict's status and reason: why a cached env was rebuilt (a damaged
env: store/env_check.py), the drift from the training env and the model's own warnings (commands/verdict_notes.py).
Console, JUnit (system-out and properties), the registry's HTML and the pytest plugin all print these, so
they say the same thing everywhere."""

from __future__ import annotations

from envforge.redact import redact
from envforge.result import VerifyResult


def extra_lines(result: VerifyResult) -> list[str]:
    """`env rebuilt: ...`, `drift: ...`, `model warning: ...` (one per warning), redacted."""
    lines = []
    if result.env_rebuilt_because:
        lines.append(f"env rebuilt: {result.env_rebuilt_because}")
    if result.drift is not None:
        lines.append(f"drift: {result.drift.get('summary')}")
    lines += [f"model warning: {w}" for w in result.model_warnings]
    return [redact(line) for line in lines]


def properties(result: VerifyResult, prefix: str = "") -> list[tuple[str, str]]:
    """(name, value) pairs for JUnit <property> elements: drift.count/drift.summary, model_warnings.count/model_warnings,
    env.rebuilt_because; only what the result has."""
    found: list[tuple[str, str]] = []
    if result.env_rebuilt_because:
        found.append((f"{prefix}env.rebuilt_because", result.env_rebuilt_because))
    if result.drift is not None:
        found += [(f"{prefix}drift.count", str(result.drift.get("count"))), (f"{prefix}drift.summary", str(result.drift.get("summary")))]
    found.append((f"{prefix}model_warnings.count", str(len(result.model_warnings))))
    if result.model_warnings:
        found.append((f"{prefix}model_warnings", "\n".join(result.model_warnings)))
    return [(name, redact(value)) for name, value in found]
