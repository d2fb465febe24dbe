"""A package shipped only as a wheel in code_paths: MLflow never installs it, envforge does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import envforge, report
from tests.support.models import make_wheel, save_code_model

pytestmark = pytest.mark.slow

HELPER = "def triple(values):\n    return values * 3\n"
MODEL = """
    import mlflow.pyfunc
    class M(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            import ef_private_helper
            return ef_private_helper.triple(model_input["x"])
    mlflow.models.set_model(M())
"""


@pytest.fixture
def wheel_model(tmp_path: Path) -> tuple[Path, Path]:
    source = tmp_path / "src"
    source.mkdir()
    (source / "ef_private_helper.py").write_text(HELPER)
    wheel = make_wheel(tmp_path / "dist", "ef_private_helper", "0.1.0", HELPER)
    return save_code_model(tmp_path / "model", MODEL, code_paths=[str(wheel)]), source


def test_envforge_installs_code_path_wheels_where_mlflow_models_predict_cannot(
        wheel_model: tuple[Path, Path], home: Path, tmp_path: Path) -> None:
    """The gap envforge fills: MLflow's own CLI (its local env manager, the fastest) cannot import the code_path
    wheel; envforge, on the same model directory, installs it and passes."""
    model, source = wheel_model
    proc = subprocess.run([sys.executable, "-m", "mlflow", "models", "predict", "-m", str(model),
                           "-i", str(model / "serving_input_example.json"), "-t", "json", "--env-manager", "local"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0 and "ModuleNotFoundError" in proc.stdout + proc.stderr
    # The training environment had the package importable (from its source tree).
    recorded = envforge("record", str(model), home=home, env={"PYTHONPATH": str(source)})
    assert recorded.returncode == 0, recorded.output
    run = envforge("verify", str(model), "--json", str(tmp_path / "r.json"), home=home)
    assert run.returncode == 0, run.output
    result = report(tmp_path / "r.json")
    assert result["status"] == "passed"
    installed = Path(result["env"]["path"]).glob("lib/python*/site-packages/ef_private_helper.py")
    assert list(installed), "the code_path wheel was not installed into the env"
