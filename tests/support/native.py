"""A wheel holding a gcc-built extension linked against a shared library: the library a test removes (nowhere on
the machine), or a real one an image lacks (libgomp.so.1). The model that imports it dies in the loader without it."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import zipfile
from pathlib import Path

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


def native_wheel(tmp_path: Path, links: str | None = None) -> Path:
    """links None: `_ext.so` needs libenvforgetest.so.1, built and then deleted; else it needs the library `links`
    names (e.g. libgomp.so.1, calling omp_get_max_threads), which must exist where gcc links."""
    assert shutil.which("gcc"), "gcc builds the test's shared objects"
    build = tmp_path / "build"
    build.mkdir()
    if links is None:
        (build / "dep.c").write_text("int envforge_dep(void) { return 42; }\n")
        subprocess.run(["gcc", "-shared", "-fPIC", "-Wl,-soname,libenvforgetest.so.1", "-o", str(build / "libenvforgetest.so.1"),
                        str(build / "dep.c")], check=True)
        (build / "ext.c").write_text("int envforge_dep(void);\nint ext(void) { return envforge_dep(); }\n")
        flags = [f"-L{build}", "-l:libenvforgetest.so.1"]
    else:
        (build / "ext.c").write_text("int omp_get_max_threads(void);\nint ext(void) { return omp_get_max_threads(); }\n")
        flags = [f"-l:{links}"]
    subprocess.run(["gcc", "-shared", "-fPIC", "-Wl,--no-as-needed", "-o", str(build / "_ext.so"), str(build / "ext.c"), *flags],
                   check=True)
    if links is None:
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
