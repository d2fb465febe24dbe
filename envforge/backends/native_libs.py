"""Shared libraries an env's compiled extensions need that this machine does not have.

A wheel's `.so` names the libraries it links against (its ELF `DT_NEEDED` entries): `libgomp.so.1` for
lightgbm, `libGL.so.1` for opencv. pip installs the wheel whatever the machine has, and the model then
dies in the loader with `OSError: libgomp.so.1: cannot open shared object file`. After the env is built,
envforge reads every `.so` of it (elf_dynamic.py with `struct`; pyelftools for a file it is unsure of; no code of
the env runs) and looks each needed library up the way the dynamic loader would, approximately: the extension's own RPATH/RUNPATH (with $ORIGIN), the
libraries the env ships itself (wheels vendor theirs in `*.libs/`), LD_LIBRARY_PATH, the loader's cache
(`ldconfig -p`) and the standard directories. What is still missing is named, with the Debian/Ubuntu
package that provides it when it is a common one.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from envforge.backends import elf_cache, elf_dynamic
from envforge.processes.proc import run

STANDARD_DIRS = ("/lib", "/usr/lib", "/lib64", "/usr/lib64", "/usr/local/lib", "/lib/x86_64-linux-gnu",
                 "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu")
# soname -> the Debian/Ubuntu package that provides it (the common ones wheels leave to the system).
DEBIAN_PACKAGES = {
    "libgomp.so.1": "libgomp1", "libGL.so.1": "libgl1", "libEGL.so.1": "libegl1", "libGLX.so.0": "libglx0",
    "libgthread-2.0.so.0": "libglib2.0-0", "libglib-2.0.so.0": "libglib2.0-0", "libSM.so.6": "libsm6",
    "libXext.so.6": "libxext6", "libXrender.so.1": "libxrender1", "libX11.so.6": "libx11-6",
    "libxcb.so.1": "libxcb1", "libsndfile.so.1": "libsndfile1", "libgfortran.so.5": "libgfortran5",
    "libquadmath.so.0": "libquadmath0", "libstdc++.so.6": "libstdc++6", "libgcc_s.so.1": "libgcc-s1",
    "libatomic.so.1": "libatomic1", "libopenblas.so.0": "libopenblas0", "libblas.so.3": "libblas3",
    "liblapack.so.3": "liblapack3", "libaio.so.1": "libaio1", "libnuma.so.1": "libnuma1",
    "libgeos_c.so.1": "libgeos-c1v5", "libgdal.so": "libgdal-dev", "libzstd.so.1": "libzstd1",
    "libz.so.1": "zlib1g", "libssl.so.3": "libssl3", "libcrypto.so.3": "libssl3", "libffi.so.8": "libffi8",
    "libjpeg.so.8": "libjpeg-turbo8", "libpng16.so.16": "libpng16-16", "libgssapi_krb5.so.2": "libgssapi-krb5-2",
    "libodbc.so.2": "libodbc2", "libpq.so.5": "libpq5", "libomp.so.5": "libomp5", "libtbb.so.12": "libtbb12",
}
# The GPU driver's own libraries: a CUDA wheel's optional parts link them, a CPU machine never has them, and the
# driver (not a package of the env) provides them on a GPU machine. Not reported as missing.
DRIVER_LIBRARIES = re.compile(r"^lib(cuda|nvidia-[a-z\-]+|nvcuvid|nvidia-encode)\.so(\.\d+)*$")
_MAX_FILES = 20000  # an env with more .so files than this is read in part (said in the result)


@dataclass(frozen=True)
class Missing:
    library: str                # the soname, e.g. libgomp.so.1
    needed_by: tuple[str, ...]  # the env's files that need it (relative to the env)
    package: str | None         # the Debian/Ubuntu package that provides it, when known

    def describe(self) -> str:
        users = ", ".join(self.needed_by[:3]) + (f" and {len(self.needed_by) - 3} more" if len(self.needed_by) > 3 else "")
        fix = f" (Debian/Ubuntu package {self.package})" if self.package else ""
        return f"{self.library}{fix}, needed by {users}"

    def to_dict(self) -> dict[str, object]:
        return {"library": self.library, "needed_by": list(self.needed_by), "package": self.package}


def read_elf(path: Path) -> tuple[list[str], list[str]] | None:
    """(DT_NEEDED, RPATH+RUNPATH entries) of an ELF shared object; None when it is not one.

    Read with `struct` (elf_dynamic.py, ~40x faster); a file it cannot answer for with certainty is read by pyelftools."""
    answer = elf_dynamic.read_dynamic(path)
    if answer is not elf_dynamic.UNSURE:
        return answer  # type: ignore[return-value]
    return read_elf_pyelftools(path)


def read_elf_pyelftools(path: Path) -> tuple[list[str], list[str]] | None:
    """read_elf's answer through pyelftools: the reference, and the fallback for files elf_dynamic is unsure of."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile

    try:
        with path.open("rb") as handle:
            if handle.read(4) != b"\x7fELF":
                return None
            handle.seek(0)
            elf = ELFFile(handle)
            needed: list[str] = []
            paths: list[str] = []
            for section in elf.iter_sections():
                if not isinstance(section, DynamicSection):
                    continue
                for tag in section.iter_tags():
                    if tag.entry.d_tag == "DT_NEEDED":
                        needed.append(tag.needed)
                    elif tag.entry.d_tag == "DT_RPATH":
                        paths += tag.rpath.split(":")
                    elif tag.entry.d_tag == "DT_RUNPATH":
                        paths += tag.runpath.split(":")
            return needed, paths
    except (ELFError, OSError, ValueError, AttributeError):
        return None


@lru_cache(maxsize=1)
def system_libraries() -> frozenset[str]:
    """The sonames the dynamic loader's cache knows (`ldconfig -p`), plus those in the standard directories."""
    names: set[str] = set()
    ldconfig = shutil.which("ldconfig") or ("/sbin/ldconfig" if os.path.exists("/sbin/ldconfig") else None)
    if ldconfig:
        done = run([ldconfig, "-p"], timeout=60)
        if done.ok:
            for line in done.stdout.splitlines()[1:]:
                name = line.strip().split(" ", 1)[0]
                if name:
                    names.add(name)
    for folder in STANDARD_DIRS:
        try:
            names.update(os.listdir(folder))
        except OSError:
            continue
    return frozenset(names)


def _shared_objects(env_path: Path) -> list[Path]:
    found: list[Path] = []
    for root, _dirs, files in os.walk(env_path):
        for name in files:
            if name.endswith(".so") or ".so." in name:
                found.append(Path(root) / name)
                if len(found) >= _MAX_FILES:
                    return found
    return found


def _base_lib_dirs(env_path: Path) -> list[str]:
    """The base interpreter's lib directory (libpython for extensions that link it), from pyvenv.cfg."""
    cfg = env_path / "pyvenv.cfg"
    if not cfg.is_file():
        return []
    for line in cfg.read_text(errors="replace").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home" and value.strip():
            return [str(Path(os.path.realpath(value.strip())).parent / "lib")]
    return []


def missing_libraries(env_path: Path, system: frozenset[str] | None = None,
                      extra_dirs: tuple[str, ...] = ()) -> list[Missing]:
    """Every library an `.so` of the env needs that neither the env nor the machine provides."""
    system = system_libraries() if system is None else system
    objects = _shared_objects(env_path)
    in_env = {p.name for p in objects}
    dirs = [*extra_dirs, *_base_lib_dirs(env_path),
            *(d for d in os.environ.get("LD_LIBRARY_PATH", "").split(":") if d)]
    extra_names: set[str] = set()
    for folder in dirs:
        try:
            extra_names.update(os.listdir(folder))
        except OSError:
            continue
    wanted: dict[str, list[str]] = {}
    reads = elf_cache.read_all(env_path, objects, read_elf)  # a reused env's files are not parsed again
    for path in objects:
        read = reads[path]
        if read is None:
            continue
        needed, search = read
        for lib in needed:
            if lib in in_env or lib in system or lib in extra_names or "/" in lib or DRIVER_LIBRARIES.match(lib):
                continue
            if any((Path(d.replace("$ORIGIN", str(path.parent)).replace("${ORIGIN}", str(path.parent))) / lib).exists()
                   for d in search if d):
                continue
            wanted.setdefault(lib, []).append(str(path.relative_to(env_path)))
    return [Missing(lib, tuple(sorted(users)), DEBIAN_PACKAGES.get(lib)) for lib, users in sorted(wanted.items())]


def reason(missing: list[Missing]) -> str:
    """One line for a verdict: which libraries are missing, who needs them, and how to get them."""
    parts = "; ".join(m.describe() for m in missing[:5]) + (f"; and {len(missing) - 5} more" if len(missing) > 5 else "")
    packages = sorted({m.package for m in missing if m.package})
    fix = (f"install {' '.join(packages)} (apt-get install {' '.join(packages)}) or use --backend docker with --install-missing"
           if packages else "install the libraries on this machine, or use a base image that has them")
    return f"the environment's compiled extensions need shared libraries this machine does not have: {parts}. Fix: {fix}"
