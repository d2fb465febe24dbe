"""backends/native_libs.py: the DT_NEEDED entries of an env's shared objects, looked up like the loader
would. The test compiles real ones with gcc: an "extension" linked against a library that the test then
removes (the machine's cache and standard directories do not have it), so the check must name it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from envforge.backends.native_libs import DEBIAN_PACKAGES, missing_libraries, read_elf, reason, system_libraries


def _build(tmp_path: Path, rpath: str | None = None) -> tuple[Path, Path]:
    """env/lib/python3.x/site-packages/ext.so needing libenvforgetest.so.1, built in tmp_path/build."""
    assert shutil.which("gcc"), "gcc is needed to build the test's shared objects"
    build = tmp_path / "build"
    build.mkdir()
    (build / "dep.c").write_text("int envforge_dep(void) { return 42; }\n")
    (build / "ext.c").write_text("int envforge_dep(void);\nint ext(void) { return envforge_dep(); }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-Wl,-soname,libenvforgetest.so.1", "-o", str(build / "libenvforgetest.so.1"),
                    str(build / "dep.c")], check=True)
    site = tmp_path / "env" / "lib" / "python3.11" / "site-packages" / "pkg"
    site.mkdir(parents=True)
    extra = [f"-Wl,-rpath,{rpath}"] if rpath else []
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(site / "ext.cpython-311-x86_64-linux-gnu.so"), str(build / "ext.c"),
                    f"-L{build}", "-l:libenvforgetest.so.1", *extra], check=True)
    return tmp_path / "env", site / "ext.cpython-311-x86_64-linux-gnu.so"


def test_reads_needed_libraries_of_a_real_shared_object(tmp_path: Path) -> None:
    _env, ext = _build(tmp_path)
    read = read_elf(ext)
    assert read is not None and read[0] == ["libenvforgetest.so.1"]
    assert read_elf(tmp_path / "build" / "ext.c") is None  # not ELF
    assert "libc.so.6" in system_libraries()


def test_a_library_the_machine_lacks_is_named(tmp_path: Path) -> None:
    env, _ext = _build(tmp_path)
    (tmp_path / "build" / "libenvforgetest.so.1").unlink()  # the machine has no such library anywhere
    missing = missing_libraries(env)
    assert [m.library for m in missing] == ["libenvforgetest.so.1"]
    assert missing[0].needed_by == ("lib/python3.11/site-packages/pkg/ext.cpython-311-x86_64-linux-gnu.so",)
    text = reason(missing)
    assert "libenvforgetest.so.1" in text and "ext.cpython-311" in text and "shared libraries this machine does not have" in text


def test_libraries_the_env_or_rpath_provides_are_not_missing(tmp_path: Path) -> None:
    env, ext = _build(tmp_path, rpath="$ORIGIN/../pkg.libs")
    vendored = ext.parent.parent / "pkg.libs"
    vendored.mkdir()
    shutil.copy(tmp_path / "build" / "libenvforgetest.so.1", vendored)  # a wheel's vendored copy
    assert missing_libraries(env) == []
    shutil.rmtree(vendored)
    (tmp_path / "build" / "libenvforgetest.so.1").unlink()
    assert [m.library for m in missing_libraries(env)] == ["libenvforgetest.so.1"]


def test_a_common_library_gets_its_debian_package(tmp_path: Path) -> None:
    env, _ext = _build(tmp_path)
    (tmp_path / "build" / "libenvforgetest.so.1").unlink()
    # The machine's loader cache as if libgomp were not installed (the test cannot uninstall it): a real lookup
    # of the real ELF file against a smaller set of system libraries.
    without = frozenset(system_libraries() - {"libenvforgetest.so.1"})
    assert missing_libraries(env, system=without)[0].package is None
    assert DEBIAN_PACKAGES["libgomp.so.1"] == "libgomp1" and DEBIAN_PACKAGES["libGL.so.1"] == "libgl1"
    from envforge.backends.native_libs import Missing

    assert "apt-get install libgomp1" in reason([Missing("libgomp.so.1", ("lightgbm/lib/lib_lightgbm.so",), "libgomp1")])


def test_gpu_driver_libraries_are_not_reported() -> None:
    from envforge.backends.native_libs import DRIVER_LIBRARIES

    # torch's CPU wheels link libcuda.so.1 from an optional part (measured on a corpus model's env): the driver's.
    assert DRIVER_LIBRARIES.match("libcuda.so.1") and DRIVER_LIBRARIES.match("libnvidia-ml.so.1")
    assert not DRIVER_LIBRARIES.match("libgomp.so.1") and not DRIVER_LIBRARIES.match("libcudart.so.12")
