"""A model whose compiled dependency needs a shared library the machine lacks gets that library named as the
verdict (exit 3), not "the model failed to load: OSError". The test builds the dependency itself: a wheel
holding a gcc-built `.so` linked against `libenvforgetest.so.1`, a library the test then deletes, so no
search path has it. Real MLflow model, real uv build, real sandboxed runner."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.support.cli import envforge, report
from tests.support.models import save_code_model

pytestmark = pytest.mark.slow

INIT = "import ctypes, os\n_ext = ctypes.CDLL(os.path.join(os.path.dirname(__file__), '_ext.so'))\n\ndef triple(v):\n    return v * 3\n"
MODEL = """
    import mlflow.pyfunc
    try:  # not installed where the model is saved; in the rebuilt env, importing it loads _ext.so
        import ef_native
    except ModuleNotFoundError:
        ef_native = None
    class M(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return ef_native.triple(model_input["x"])
    mlflow.models.set_model(M())
"""


def _native_wheel(tmp_path: Path) -> Path:
    assert shutil.which("gcc"), "gcc builds the test's shared objects"
    build = tmp_path / "build"
    build.mkdir()
    (build / "dep.c").write_text("int envforge_dep(void) { return 42; }\n")
    (build / "ext.c").write_text("int envforge_dep(void);\nint ext(void) { return envforge_dep(); }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-Wl,-soname,libenvforgetest.so.1", "-o", str(build / "libenvforgetest.so.1"),
                    str(build / "dep.c")], check=True)
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(build / "_ext.so"), str(build / "ext.c"), f"-L{build}",
                    "-l:libenvforgetest.so.1"], check=True)
    (build / "libenvforgetest.so.1").unlink()  # nowhere on this machine now
    dist = "ef_native-0.1.0.dist-info"
    files = {"ef_native/__init__.py": INIT.encode(), "ef_native/_ext.so": (build / "_ext.so").read_bytes(),
             f"{dist}/METADATA": b"Metadata-Version: 2.1\nName: ef_native\nVersion: 0.1.0\n",
             f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: envforge-tests\nRoot-Is-Purelib: false\nTag: py3-none-any\n"}
    record = [f"{n},sha256={base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b'=').decode()},{len(d)}" for n, d in files.items()]
    files[f"{dist}/RECORD"] = ("\n".join([*record, f"{dist}/RECORD,,"]) + "\n").encode()
    wheel = tmp_path / "dist" / "ef_native-0.1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel


def test_a_missing_shared_library_is_the_verdict(tmp_path: Path, home: Path) -> None:
    wheel = _native_wheel(tmp_path)
    model = save_code_model(tmp_path / "model", MODEL, code_paths=[str(wheel)])
    run = envforge("verify", str(model), "--json", str(tmp_path / "r.json"), home=home)
    result = report(tmp_path / "r.json")
    assert run.returncode == 3 and result["status"] == "error", run.output
    assert result["reason"].startswith("the environment's compiled extensions need shared libraries this machine does not have: "
                                       "libenvforgetest.so.1") and "ef_native/_ext.so" in result["reason"]
    assert result["model_error"]["stage"] == "load"  # it was loaded, and failed where the check said it would
