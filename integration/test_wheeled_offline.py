"""MLflow's WheeledModel (its dependencies as wheels inside the model) verified with --offline: with an
empty uv cache and every proxy pointing at a closed port, so any download attempt would fail."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.support.cache import cached_dir, digest
from tests.support.cli import envforge, report
from tests.support.models import record_digests_again

pytestmark = pytest.mark.slow

MODEL = """
    import mlflow.pyfunc
    class M(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return model_input["x"] * 2 + 0.5
    mlflow.models.set_model(M())
"""
# Run by the test environment's Python in a subprocess: log a code model with small requirements
# (mlflow-skinny), register it, let WheeledModel re-log it with its wheels (pip downloads them), and
# download the wheeled version. All real MLflow, against a local SQLite store.
LOGGER = """
import sys
import cloudpickle, mlflow, numpy, pandas as pd
from mlflow.models.wheeled_model import WheeledModel

store, code, out = sys.argv[1:4]
mlflow.set_tracking_uri(f"sqlite:///{store}/mlflow.db")
reqs = [f"mlflow-skinny=={mlflow.__version__}", f"pandas=={pd.__version__}", f"numpy=={numpy.__version__}",
        f"cloudpickle=={cloudpickle.__version__}"]
with mlflow.start_run():
    info = mlflow.pyfunc.log_model(name="model", python_model=code, input_example=pd.DataFrame({"x": [1.0, 2.0, 3.5]}),
                                   pip_requirements=reqs, registered_model_name="wheeled-demo")
with mlflow.start_run():
    WheeledModel.log_model(f"models:/wheeled-demo/{info.registered_model_version}")
mlflow.artifacts.download_artifacts(artifact_uri="models:/wheeled-demo/2", dst_path=out)
"""
NO_NETWORK = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
              "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9", "NO_PROXY": "", "no_proxy": ""}


def _log_wheeled_model(path: Path) -> None:
    store = path / "store"
    store.mkdir()
    (store / "model_code.py").write_text(textwrap.dedent(MODEL))
    proc = subprocess.run([sys.executable, "-c", LOGGER, str(store), str(store / "model_code.py"), str(path / "model")],
                          capture_output=True, text=True, cwd=store, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    shutil.rmtree(store)


@pytest.fixture(scope="module")
def wheeled_template() -> Path:
    """Logged once per machine and MLflow version (pip downloads ~45 MB of wheels), then reused."""
    import mlflow

    name = f"wheeled-model-mlflow{mlflow.__version__}-py{sys.version_info[0]}{sys.version_info[1]}-{digest(MODEL, LOGGER)}"
    return cached_dir(name, _log_wheeled_model) / "model"


@pytest.fixture(scope="module")
def recorded_template(wheeled_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wheeled")
    model = Path(shutil.copytree(wheeled_template, root / "model"))
    recorded = envforge("record", str(model), home=root / "home")  # the training env: this test environment
    assert recorded.returncode == 0, recorded.output
    return model


@pytest.fixture
def wheeled_model(recorded_template: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(recorded_template, tmp_path / "wheeled"))


def test_the_model_is_a_real_wheeled_model(wheeled_template: Path) -> None:
    mlmodel = yaml.safe_load((wheeled_template / "MLmodel").read_text())
    assert "platform" in mlmodel["wheels"]
    assert Path(mlmodel["artifact_path"]).is_absolute()  # MLflow 3 writes an absolute artifact_path here
    lines = (wheeled_template / "requirements.txt").read_text().split()
    assert lines and all(line.startswith("wheels/") and line.endswith(".whl") for line in lines)
    assert any(Path(line).name.startswith("mlflow_skinny-") for line in lines)


@pytest.mark.parametrize("backend", ["uv", "virtualenv"])
def test_offline_verify_installs_only_the_models_wheels(wheeled_model: Path, tmp_path: Path, home: Path, backend: str) -> None:
    env = {"UV_CACHE_DIR": str(tmp_path / "empty-uv-cache"), "PIP_NO_CACHE_DIR": "1", **NO_NETWORK}
    run = envforge("verify", str(wheeled_model), "--offline", "--backend", backend, "--json", str(tmp_path / "r.json"), home=home, env=env)
    assert run.returncode == 0, run.output
    result = report(tmp_path / "r.json")
    assert result["status"] == "passed", result
    assert any("WheeledModel" in w and "pip==" in w for w in result["warnings"])  # build deps: not in wheels/, skipped
    site = next(Path(result["env"]["path"]).glob("lib/python*/site-packages"))
    wheels = {p.name.split("-")[0].lower() for p in (wheeled_model / "wheels").glob("*.whl")}
    installed = {p.name.split("-")[0].lower() for p in site.glob("*.dist-info")}
    seeded = {"pip"} if backend == "virtualenv" else set()  # virtualenv seeds its own bundled pip, offline
    assert installed - seeded == wheels  # exactly the model's wheels: nothing resolved from elsewhere
    inspected = json.loads(envforge("inspect", str(wheeled_model), "--json", "--backend", backend, home=home).stdout)
    assert inspected["wheels"][0].startswith("(a WheeledModel") and len(inspected["wheels"]) == len(wheels) + 1
    assert inspected["env_key"] == result["env"]["key"] and inspected["build_dependencies"] == []


@pytest.mark.parametrize("backend", ["uv", "virtualenv"])
def test_offline_with_a_requirement_not_in_the_wheels_fails_clearly(wheeled_model: Path, tmp_path: Path, home: Path, backend: str) -> None:
    reqs = wheeled_model / "requirements.txt"
    reqs.write_text(reqs.read_text() + "envforge-no-such-package-zzz==9.9.9\n")
    record_digests_again(wheeled_model)  # stands for a model logged with that line (the artifact gate, issue 29)
    env = {"UV_CACHE_DIR": str(tmp_path / "empty-uv-cache"), "PIP_NO_CACHE_DIR": "1", **NO_NETWORK}
    run = envforge("verify", str(wheeled_model), "--offline", "--backend", backend, "--json", str(tmp_path / "r.json"), home=home, env=env)
    assert run.returncode == 3, run.output
    assert "Traceback" not in run.output
    result = report(tmp_path / "r.json")
    assert result["status"] == "error" and "offline" in result["reason"]
    assert "envforge-no-such-package-zzz" in result["reason"]
    assert "--offline is set" in result["error"]["remedy"]
    assert not any((home / "envs").glob("uv-*/.envforge-state.json")), "a failed build left an env in the cache"
