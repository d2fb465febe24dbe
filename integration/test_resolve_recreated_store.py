"""A registered version cached from a local store that is then recreated at the same path (rm -rf the
quickstart folder, run it again) is downloaded again: the registry, not the cache, says which model
models:/NAME/1 is. Real MLflow and a real SQLite store, each step in a process of its own as a user's would
be (MLflow keeps a store's connection open for the life of a process); nothing is loaded, only logged and
resolved by `envforge inspect`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import envforge
from tests.support.models import pinned_requirements

pytestmark = pytest.mark.slow

LOG = """
import sys, mlflow, pandas as pd
store, factor, pins = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
code = f"{store}/model_{factor}.py"
open(code, "w").write("import mlflow\\n\\nclass M(mlflow.pyfunc.PythonModel):\\n    def predict(self, context, model_input, params=None):\\n"
                      f"        return model_input * {factor}\\n\\nmlflow.models.set_model(M())\\n")
mlflow.set_tracking_uri(f"sqlite:///{store}/mlflow.db")
experiment = mlflow.create_experiment("recreated", artifact_location=f"file://{store}/artifacts")
with mlflow.start_run(experiment_id=experiment):
    info = mlflow.pyfunc.log_model(name="model", python_model=code, registered_model_name="recreated",
                                   input_example=pd.DataFrame({"x": [1.0]}), pip_requirements=pins)
print(info.registered_model_version, info.model_id)
"""


def _log(store: Path, factor: int) -> str:
    store.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-c", LOG, str(store), str(factor), ",".join(pinned_requirements())],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    version, model_id = done.stdout.split()[-2:]
    assert version == "1"
    return model_id


def _inspect(tracking: str, home: Path) -> Path:
    run = envforge("inspect", "models:/recreated/1", "--tracking-uri", tracking, "--json", home=home)
    assert run.returncode == 0, run.output
    return Path(json.loads(run.stdout)["model_dir"])


def test_a_recreated_store_reusing_version_numbers_is_downloaded_again(tmp_path: Path) -> None:
    home, store = tmp_path / "home", tmp_path / "store"
    tracking = f"sqlite:///{store / 'mlflow.db'}"
    _log(store, 2)
    first = _inspect(tracking, home)
    assert "* 2" in next(first.glob("*.py")).read_text()

    shutil.rmtree(store)
    _log(store, 3)  # models:/recreated/1 again, another model
    second = _inspect(tracking, home)
    assert "* 3" in next(second.glob("*.py")).read_text(), "the cache served the first store's model"
