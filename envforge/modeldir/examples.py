"""Which inputs to run: the model's saved input example, and files given with --input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from envforge.bounds import limits
from envforge.bounds.parsing import load_json
from envforge.errors import EnvforgeError, ModelDirError, UsageError
from envforge.spec.mlmodel import MLmodel
from envforge.spec.paths import inside

MODEL_EXAMPLE = "input_example"
MAX_INPUT_BYTES = limits.JSON_BYTES.default  # the default; limits.JSON_BYTES.value is what applies


def model_examples(model_dir: Path, mlmodel: MLmodel) -> list[dict[str, Any]]:
    """The model's own example, if it has one (the runner reads it with the model's MLflow)."""
    if mlmodel.example is None:
        return []
    path = inside(model_dir, mlmodel.example.path, "saved_input_example_info.artifact_path")
    if not path.is_file():
        return []
    _check_json(path, f"the model's input example {mlmodel.example.path}", ModelDirError,
                "Re-log the model with a valid input example, or pass --input FILE to run another one.")
    return [{"name": MODEL_EXAMPLE, "source": "example"}]


def _check_json(path: Path, what: str, error: type[EnvforgeError], remedy: str) -> Any:
    """Parse `path` as JSON (data only: safe in envforge's own process), refusing huge, deep or dense files."""
    text = limits.read_bounded(path, "json", where=what, error=error, remedy=remedy)
    try:
        return load_json(text, what, error, remedy)
    except ValueError as exc:
        raise error(f"{what} is not valid JSON ({exc}).", remedy) from None


def input_files(paths: list[str], mlmodel: MLmodel) -> list[dict[str, Any]]:
    """--input FILE examples: JSON in any example or serving encoding; the payload is kept."""
    out = []
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            raise UsageError(f"--input {raw}: no such file.", "Pass a JSON file holding an input example.")
        payload = _check_json(path, f"--input {raw}", UsageError, "Pass a JSON file of reasonable size (e.g. the model's input_example.json).")
        example = {"name": path.stem, "payload": payload, "source": "file"}
        if mlmodel.example and mlmodel.example.type:
            example["type"] = mlmodel.example.type
            example["pandas_orient"] = mlmodel.example.pandas_orient
        out.append(example)
    return out
