"""What a pyspark env's model process gets, for real: the host's Java runtime visible inside the default sandbox
(its files outside /usr bound read-only), JAVA_HOME, and PYSPARK_PYTHON/PYSPARK_DRIVER_PYTHON set to the env's own
interpreter (else Spark starts its workers with the first `python` on PATH). A real pyspark (~300 MB) and a real
Spark model do not fit the suite's budget, so the env gets a stand-in distribution named pyspark (a wheel holding
`pyspark/__init__.py`, built in the test) and the model's predict() starts the JVM itself (`java -version`) and
reports what it sees. Real MLflow model, real uv build, the real sandbox."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

import pytest

from envforge.execution.java import find_java
from tests.support.cli import envforge, report
from tests.support.models import save_code_model

pytestmark = pytest.mark.slow

MODEL = """
    import os, subprocess, sys
    import mlflow.pyfunc
    class M(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            import pyspark  # the stand-in: the env has pyspark, as a Spark model's does
            java = subprocess.run([os.path.join(os.environ.get("JAVA_HOME", "/nonexistent"), "bin", "java"), "-version"],
                                  capture_output=True, text=True)
            started = java.returncode == 0 and 'version "' in java.stderr
            ours = [os.path.realpath(os.environ.get(v, "")) == os.path.realpath(sys.executable)
                    for v in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON")]
            return [100.0 * started + 10.0 * ours[0] + ours[1] for _ in range(len(model_input))]
    mlflow.models.set_model(M())
"""


def _stand_in_pyspark(directory: Path) -> Path:
    dist = "pyspark-3.5.1.dist-info"
    files = {"pyspark/__init__.py": b"__version__ = '3.5.1'  # envforge test stand-in\n",
             f"{dist}/METADATA": b"Metadata-Version: 2.1\nName: pyspark\nVersion: 3.5.1\n",
             f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: envforge-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = [f"{n},sha256={base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b'=').decode()},{len(d)}" for n, d in files.items()]
    files[f"{dist}/RECORD"] = ("\n".join([*record, f"{dist}/RECORD,,"]) + "\n").encode()
    wheel = directory / "pyspark-3.5.1-py3-none-any.whl"
    directory.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel


def test_the_sandboxed_model_starts_the_jvm_with_the_envs_python(tmp_path: Path, home: Path) -> None:
    java = find_java()
    assert java is not None, "this machine has a Java runtime (OpenJDK 17)"
    model = save_code_model(tmp_path / "model", MODEL, code_paths=[str(_stand_in_pyspark(tmp_path / "dist"))])
    run = envforge("verify", str(model), "--json", str(tmp_path / "r.json"), home=home)
    result = report(tmp_path / "r.json")
    assert run.returncode == 0 and result["status"] == "unverified", run.output
    assert result["sandbox"].get("network") is False, result["sandbox"]  # the default sandbox ran it
    out = Path(result["env"]["path"])
    assert any(out.glob("lib/python*/site-packages/pyspark/__init__.py"))
    values = [item["value"] for item in result["examples"][0]["prediction"]["items"]]
    assert values == [111.0, 111.0, 111.0], values  # 100: the JVM started; 10 + 1: PYSPARK_PYTHON and _DRIVER_ are the env's
