"""--conda-exe: let an installed conda, mamba or micromamba solve instead of py-rattler.

Only the solve is theirs: `EXE create --dry-run --json --override-channels -c ... SPECS` names the
packages (its LINK actions), and py-rattler links exactly those (found by name, version and build
in the same channels), so the env, its lock and its cache entry are made the same way as always.
Not exercised by envforge's tests: none of the three can be installed on the machines they run on.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from envforge.backends.conda.channels import describe, scrub, usable_url
from envforge.backends.conda.records import CondaPackage
from envforge.backends.conda.solve import SOLVE_REMEDY
from envforge.errors import EnvBuildError, UsageError
from envforge.processes.proc import child_env, run


def solve(conda_exe: str, channels: list[str], specs: list[str], *, timeout: float) -> list[CondaPackage]:
    exe = conda_exe if os.sep in conda_exe else _which(conda_exe)
    if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
        raise UsageError(f"--conda-exe {conda_exe}: not an executable file.",
                         "Pass the path of conda, mamba or micromamba, or leave --conda-exe out to solve with py-rattler.")
    with tempfile.TemporaryDirectory(prefix="envforge-conda-exe-") as tmp:
        argv = [exe, "create", "--dry-run", "--json", "--yes", "--override-channels", "--prefix", str(Path(tmp) / "env")]
        argv += [arg for channel in channels for arg in ("-c", usable_url(channel))] + list(specs)
        env = child_env({"CONDA_PKGS_DIRS": str(Path(tmp) / "pkgs")}, prefixes=("CONDA_", "MAMBA_"))
        outcome = run(argv, timeout=timeout, env=env)
    data = _json(outcome.stdout)
    failed = not outcome.ok or not data.get("success", True) or data.get("error") or data.get("exception_name")
    if failed:
        reason = str(data.get("error") or data.get("message") or outcome.tail(15)).strip()
        raise EnvBuildError(f"{Path(exe).name} could not solve the conda dependencies from the channel(s) {describe(channels)}: "
                            f"{scrub(reason)}", SOLVE_REMEDY)
    return packages(data)


def packages(data: dict[str, Any]) -> list[CondaPackage]:
    """The packages of a dry run's LINK actions (conda's and micromamba's JSON), with file and hash where given."""
    actions = data.get("actions") or {}
    fetch = {str(f.get("name")): f for f in actions.get("FETCH") or [] if isinstance(f, dict)}
    out = []
    for entry in actions.get("LINK") or []:
        if not isinstance(entry, dict) or not entry.get("name"):
            continue
        extra = fetch.get(str(entry["name"]), {})
        out.append(CondaPackage(
            name=str(entry["name"]), version=str(entry.get("version", "")),
            build=str(entry.get("build_string") or entry.get("build") or ""),
            url=str(entry.get("url") or extra.get("url") or ""), md5=str(entry.get("md5") or extra.get("md5") or ""),
            sha256=entry.get("sha256") or extra.get("sha256") or None, subdir=str(entry.get("platform") or entry.get("subdir") or ""),
        ))
    if not out:
        raise EnvBuildError("The external solver's dry run named no packages to install.", SOLVE_REMEDY)
    return out


def _which(name: str) -> str:
    import shutil

    return shutil.which(name) or name


def _json(text: str) -> dict[str, Any]:
    start = text.find("{")  # conda may print a banner before the JSON document
    try:
        data = json.loads(text[start:]) if start >= 0 else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
