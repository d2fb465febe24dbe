"""Issue 29's check of a damaged env, as every backend's test asserts it: the verify after one file was deleted
from the built env rebuilt it in place, PASSED, and says why (JSON and console)."""

from __future__ import annotations

from pathlib import Path


def assert_rebuilt_for_a_missing_file(code: int, result: dict, output: str, env: Path, victim: Path, rel: str) -> str:
    """The checks; returns the `rebuilt_because` reason."""
    assert code == 0 and result["status"] == "passed", output
    assert result["env"]["reused"] is False and result["env"]["path"] == str(env) and victim.is_file()
    why = result["env"]["rebuilt_because"]
    assert "1 file(s) missing" in why and rel in why
    assert f"env rebuilt: {why}" in " ".join(output.split())  # the console line (rich may wrap it)
    return why
