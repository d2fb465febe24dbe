"""Run the runner script inside an environment and read back what it wrote."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envforge.errors import ModelRunError
from envforge.proc import child_env, run
from envforge.redact import redact
from envforge.runner import script_path


@dataclass(frozen=True)
class RunnerOutput:
    data: dict[str, Any]
    seconds: float
    stderr_tail: str

    @property
    def load_error(self) -> dict[str, Any] | None:
        load = self.data.get("load") or {}
        return None if load.get("ok") else load.get("error") or {"type": "Error", "message": "the model did not load"}

    @property
    def examples(self) -> list[dict[str, Any]]:
        return list(self.data.get("examples") or [])

    def predictions(self) -> dict[str, dict[str, Any]]:
        return {e["name"]: e["prediction"] for e in self.examples if e.get("ok")}

    def failures(self) -> list[dict[str, Any]]:
        return [e for e in self.examples if not e.get("ok")]


def run_runner(
    python_argv: list[str],
    model_dir: Path,
    examples: list[dict[str, Any]],
    *,
    timeout: float,
    freeze: bool = False,
    env: dict[str, str] | None = None,
) -> RunnerOutput:
    """python_argv: how to start the env's Python (e.g. [env/bin/python, "-I"])."""
    with tempfile.TemporaryDirectory(prefix="envforge-run-") as tmp:
        request = Path(tmp) / "request.json"
        result = Path(tmp) / "result.json"
        request.write_text(json.dumps({"model_dir": str(model_dir), "examples": examples, "freeze": freeze}))
        outcome = run([*python_argv, str(script_path()), str(request), str(result)], timeout=timeout,
                      env=env if env is not None else child_env(), cwd=tmp)
        if outcome.timed_out:
            raise ModelRunError(
                f"The model did not finish loading and predicting within {timeout:.0f} s.",
                "Raise --predict-timeout if the model is legitimately slow, or look for a hang in its predict().",
            )
        try:
            data = json.loads(result.read_text())
        except (OSError, ValueError):
            raise ModelRunError(
                f"The model's process exited with code {outcome.returncode} before writing a result "
                f"(it may have called exit() or crashed).\n{redact(outcome.tail(15))}\n",
                "Run `envforge shell` on the model to investigate inside the rebuilt environment.",
            ) from None
    return RunnerOutput(data=data, seconds=outcome.seconds, stderr_tail=outcome.tail(15))
