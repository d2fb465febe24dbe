"""The docker backend's shared-library check (backends/docker/native.py): the script the image runs, run here on
this machine's own `ldd` against a gcc-built extension whose library was deleted (and one a wheel vendors), and
the verdict's wording for each remedy."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from envforge.backends.docker import native
from envforge.backends.native_libs import Missing


def _so(path: Path, needs: str, folder: Path) -> None:
    src = path.with_suffix(".c")
    src.write_text("int dep(void);\nint ext(void) { return dep(); }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-Wl,--no-as-needed", "-o", str(path), str(src), f"-L{folder}", f"-l:{needs}"], check=True)


def test_the_image_script_lists_what_the_loader_cannot_find(tmp_path: Path) -> None:
    assert shutil.which("gcc") and shutil.which("ldd")
    libs = tmp_path / "libs"
    libs.mkdir()
    for soname in ("libgone.so.1", "libvendored-1a2b.so.0"):
        (libs / "dep.c").write_text("int dep(void) { return 1; }\n")
        subprocess.run(["gcc", "-shared", "-fPIC", f"-Wl,-soname,{soname}", "-o", str(libs / soname), str(libs / "dep.c")], check=True)
    venv = tmp_path / "venv" / "lib" / "python3" / "site-packages"
    (venv / "pkg").mkdir(parents=True)
    (venv / "pkg.libs").mkdir()
    _so(venv / "pkg" / "_a.so", "libgone.so.1", libs)
    _so(venv / "pkg" / "_b.so", "libvendored-1a2b.so.0", libs)
    shutil.copy(libs / "libvendored-1a2b.so.0", venv / "pkg.libs")  # a wheel's vendored library: found through RPATH
    (libs / "libgone.so.1").unlink()
    (libs / "libvendored-1a2b.so.0").unlink()
    done = subprocess.run([sys.executable, "-I", "-c", native.SCRIPT, str(tmp_path / "venv")], capture_output=True, text=True, check=True)
    data = json.loads(done.stdout.strip().splitlines()[-1])
    assert data["ldd"] is True and data["files"] == 3
    assert data["missing"] == {"libgone.so.1": ["lib/python3/site-packages/pkg/_a.so"]}


def test_the_verdict_says_how_to_get_the_libraries() -> None:
    gomp = Missing("libgomp.so.1", ("lib/python3.11/site-packages/x/_x.so",), "libgomp1")
    odd = Missing("libodd.so.3", ("lib/python3.11/site-packages/y/_y.so",), None)
    first = native.reason([gomp], "base:1", ())
    assert first.startswith("the environment's compiled extensions need shared libraries the image (base:1) does not have: "
                            "libgomp.so.1 (Debian/Ubuntu package libgomp1), needed by lib/python3.11/site-packages/x/_x.so")
    assert "rerun with --install-missing (the image gets libgomp1)" in first
    assert "--install-missing installed libgomp1, and these are still missing" in native.reason([odd], "base:1", ("libgomp1",))
    assert "system_requirements.txt, or pass a --base-image" in native.reason([odd], "base:1", ())
    assert native.from_json(native.to_json([gomp, odd])) == [gomp, odd] and native.from_json(None) == []
