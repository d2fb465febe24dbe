"""Shared libraries the env image's compiled extensions need and the image lacks, and --install-missing.

The host check (backends/native_libs.py) reads ELF files against the host's libraries; in an image the
question is the image's loader. After the env image is built, a no-network container of it runs `ldd` on
every `.so` of the venv (from a short Python script, the file names as argv, never through a shell) and
lists what the loader reports `not found`. With --install-missing, the Debian packages of the known ones
(native_libs.DEBIAN_PACKAGES) are apt-installed in a layer on top of the env image, which is then checked
again; what is still missing (an unknown library, an image without apt) stays named in the verdict.
"""

from __future__ import annotations

import json
from typing import Any

from envforge.backends.base import Log
from envforge.backends.docker.build import build_image
from envforge.backends.docker.context import APT_SCRIPT, PREFIX, UID, VENV_PYTHON, WORKDIR, Context
from envforge.backends.docker.engine import engine_errors
from envforge.backends.native_libs import DEBIAN_PACKAGES, DRIVER_LIBRARIES, Missing

VENV = f"{PREFIX}/venv"
# Runs in the image with its own Python: every .so under argv[1], `ldd` in batches, the `not found` sonames per file.
SCRIPT = r"""
import json, os, shutil, subprocess, sys
root = sys.argv[1]
if not shutil.which("ldd"):
    print(json.dumps({"ldd": False})); sys.exit(0)
files = [os.path.join(d, n) for d, _, names in os.walk(root) for n in names if n.endswith(".so") or ".so." in n]
names = {os.path.basename(f) for f in files}  # wheels vendor their libraries (scipy.libs/): found through their RPATH
found = {}
for i in range(0, len(files), 64):
    batch = files[i:i + 64]
    try:
        out = subprocess.run(["ldd", *batch], capture_output=True, text=True, timeout=300).stdout
    except (OSError, subprocess.SubprocessError):
        continue
    current = batch[0]
    for line in out.splitlines():
        if not line.startswith(("\t", " ")) and line.endswith(":") and len(batch) > 1:
            current = line[:-1]
        elif "=> not found" in line and line.split("=>")[0].strip() not in names:
            found.setdefault(line.split("=>")[0].strip(), []).append(os.path.relpath(current, root))
print(json.dumps({"ldd": True, "files": len(files), "missing": found}))
"""


def check_image(client: Any, image_id: str) -> tuple[list[Missing], str | None]:
    """(what the image's loader cannot find for the venv's extensions, a note when the image cannot say)."""
    with engine_errors("Checking the env image's shared libraries"):
        output = client.containers.run(image_id, ["-I", "-c", SCRIPT, VENV], entrypoint=[VENV_PYTHON], user=str(UID),
                                       working_dir=WORKDIR, network_disabled=True, network_mode="none", remove=True)
    try:
        data = json.loads(output.decode(errors="replace").strip().splitlines()[-1])
    except (ValueError, IndexError):
        return [], "the image's shared libraries could not be checked (the check printed no result)"
    if not data.get("ldd"):
        return [], "the image has no `ldd`: its shared libraries were not checked"
    return [Missing(lib, tuple(sorted(set(users))), DEBIAN_PACKAGES.get(lib))
            for lib, users in sorted((data.get("missing") or {}).items()) if not DRIVER_LIBRARIES.match(lib)], None


def install_missing(client: Any, image_id: str, tag: str, key: str, missing: list[Missing], *, timeout: float,
                    log: Log) -> tuple[str, tuple[str, ...]]:
    """The env image with the known packages of `missing` apt-installed on top (tagged `tag`), and those packages."""
    packages = tuple(sorted({m.package for m in missing if m.package}))
    if not packages:
        return image_id, ()
    log(f"--install-missing: installing {' '.join(packages)} in the image")
    lines = [f"FROM {image_id}", "USER root", "RUN " + json.dumps(["/bin/sh", "-c", APT_SCRIPT, "envforge-apt", *packages]),
             f"LABEL org.envforge.key={key} org.envforge.installed-missing={','.join(packages)}", f"USER {UID}", f"WORKDIR {WORKDIR}"]
    return build_image(client, Context(dockerfile="\n".join(lines) + "\n"), tag, timeout=timeout, log=log), packages


def reason(missing: list[Missing], base: str, tried: tuple[str, ...]) -> str:
    """One line for a verdict: which libraries the image lacks, and how to get them there."""
    parts = "; ".join(m.describe() for m in missing[:5]) + (f"; and {len(missing) - 5} more" if len(missing) > 5 else "")
    packages = sorted({m.package for m in missing if m.package})
    if tried:
        fix = (f"--install-missing installed {' '.join(tried)}, and these are still missing: declare the packages that provide "
               "them in system_requirements.txt, or pass a --base-image that has them")
    elif packages:
        fix = (f"rerun with --install-missing (the image gets {' '.join(packages)}), or declare them in the model's "
               "system_requirements.txt")
    else:
        fix = "declare the packages that provide them in the model's system_requirements.txt, or pass a --base-image that has them"
    return f"the environment's compiled extensions need shared libraries the image ({base}) does not have: {parts}. Fix: {fix}"


def to_json(missing: list[Missing]) -> list[dict[str, object]]:
    return [m.to_dict() for m in missing]


def from_json(items: Any) -> list[Missing]:
    if not isinstance(items, list):
        return []
    return [Missing(str(i["library"]), tuple(i.get("needed_by") or ()), i.get("package")) for i in items
            if isinstance(i, dict) and i.get("library")]
