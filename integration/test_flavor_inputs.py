"""Inputs the flavor knows (issue 34): an ONNX model logged with no example and no signature is asked, inside
its rebuilt env, for its graph's inputs; record keeps the rows made, verify replays them and passes.

A real model saved by real MLflow (tests/support/flavor_models.py), a real uv build with onnxruntime, the real CLI.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.support.cli import envforge, report
from tests.support.flavor_models import WEIGHTS, save_onnx_model

pytestmark = pytest.mark.slow


def test_an_onnx_model_without_example_is_asked_for_its_graph_inputs(tmp_path: Path) -> None:
    model = save_onnx_model(tmp_path / "onnx")
    mlmodel = yaml.safe_load((model / "MLmodel").read_text())
    assert "signature" not in mlmodel and "saved_input_example_info" not in mlmodel and "onnx" in mlmodel["flavors"]
    home = tmp_path / "home"

    recorded = envforge("record", str(model), home=home)
    assert recorded.returncode == 0, recorded.output
    assert "recorded 1 example(s) (synthesized: introspected)" in recorded.stdout
    [stored] = json.loads((model / "envforge-expectations.json").read_text())["examples"]
    features = np.asarray(stored["payload"]["inputs"]["features"], dtype=np.float32)
    assert stored["source"] == "introspected" and stored["dtypes"] == {"features": "float32"} and features.shape == (5, 3)
    assert "the ONNX graph's inputs" in stored["detail"]
    assert stored["prediction"]["kind"] == "dict", stored["prediction"]  # MLflow's onnx pyfunc: {output name: array}
    predicted = np.asarray(stored["prediction"]["items"]["y"]["data"], dtype=np.float64).ravel()
    np.testing.assert_allclose(predicted, features @ np.array(WEIGHTS), rtol=1e-5)  # the truth, computed here

    copy = Path(shutil.copytree(model, tmp_path / "again"))
    run = envforge("verify", str(copy), "--json", str(tmp_path / "r.json"), home=home)
    result = report(tmp_path / "r.json")
    assert run.returncode == 0, run.output
    assert result["status"] == "passed", result["reason"]
    assert "synthesized from what the loaded model reports" in result["reason"]
    assert result["examples"][0]["source"] == "introspected"
