"""The docker backend checks its env image's shared libraries: a model whose compiled dependency needs
libgomp.so.1, which the suite's base image (debootstrap bookworm, no libgomp1) lacks, gets that library named
as the verdict (exit 3), with the remedy; with --install-missing the image gets libgomp1 apt-installed on top of
the env image and the model runs. The wheel is built in the test (gcc, linked against the host's libgomp), the
model is a real MLflow model, the images are built by the real engine (the second build reuses the first one's
layers: only the libgomp1 layer is new)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import envforge, report
from tests.support.docker import BASE_IMAGE, client, start_engine
from tests.support.models import save_code_model
from tests.support.native import native_wheel

pytestmark = [pytest.mark.slow, pytest.mark.docker]

# ef_native.triple loads _ext.so (libgomp); + 1000 when PYSPARK_PYTHON/PYSPARK_DRIVER_PYTHON name the venv's Python,
# which the container gets for Spark models (Spark would otherwise start its workers with the first `python` on PATH).
MODEL = """
    import os, sys
    import mlflow.pyfunc
    try:  # not installed where the model is saved; in the rebuilt env, importing it loads _ext.so
        import ef_native
    except ModuleNotFoundError:
        ef_native = None
    class M(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            spark = all(os.environ.get(v) == sys.executable for v in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON"))
            return ef_native.triple(model_input["x"]) + 1000.0 * spark
    mlflow.models.set_model(M())
"""


def _verify(model: Path, home: Path, host: str, out: Path, *extra: str):
    run = envforge("verify", str(model), "--backend", "docker", "--base-image", BASE_IMAGE, "--json", str(out), *extra,
                   home=home, env={"DOCKER_HOST": host}, timeout=1500)
    assert "Traceback" not in run.output, run.output
    return run, report(out)


def test_the_image_lacks_libgomp_and_install_missing_installs_it(tmp_path: Path, home: Path) -> None:
    host = start_engine()
    model = save_code_model(tmp_path / "model", MODEL, code_paths=[str(native_wheel(tmp_path, "libgomp.so.1"))])
    run, result = _verify(model, home, host, tmp_path / "bare.json")
    assert run.returncode == 3 and result["status"] == "error", run.output
    assert result["reason"].startswith(f"the environment's compiled extensions need shared libraries the image ({BASE_IMAGE}) "
                                       "does not have: libgomp.so.1 (Debian/Ubuntu package libgomp1), needed by lib/python3")
    assert "ef_native/_ext.so" in result["reason"] and "rerun with --install-missing (the image gets libgomp1)" in result["reason"]
    assert result["model_error"]["stage"] == "load"  # the container loaded it, and it failed where the check said

    run, result = _verify(model, home, host, tmp_path / "fixed.json", "--install-missing")
    assert run.returncode == 0 and result["status"] in ("passed", "unverified"), run.output
    assert not any("shared libraries" in w for w in result["warnings"])
    values = result["examples"][0]["prediction"]["data"]  # a pandas Series
    assert values == [1003.0, 1006.0, 1009.0], values
    labels = client(host).images.get(result["image"]["env_image_id"]).labels
    assert labels["org.envforge.installed-missing"] == "libgomp1"
