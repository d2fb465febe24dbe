"""Databricks runtime profiles: what the cluster a model was logged on had installed.

MLflow on Databricks writes the cluster's runtime into MLmodel (`databricks_runtime: 15.1`,
`14.3.x-cpu-ml-scala2.12`, serverless `client.5`), while `requirements.txt` lists only what the model
imports: numpy, pandas, pyarrow … came from the runtime, at the runtime's versions. A profile is one
table in spec/runtimes/ (the runtime's Python series and its Python libraries, with the source and
date of the table); `apply_profile` turns it into constraints for every package the model's
requirements leave open, so the rebuilt env gets the versions the runtime had instead of whatever the
resolver picks. An unknown runtime is said so, with the reason, and nothing is guessed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envforge.errors import UsageError

if TYPE_CHECKING:
    from envforge.spec import EnvSpec

TABLES = Path(__file__).with_name("runtimes")
OFF = "off"
HELP = ("the Databricks runtime whose library versions constrain what a model's requirements leave open: "
        "`auto` (default: the MLmodel's databricks_runtime, with --resolve logged), `off`, or a runtime name "
        "such as 14.3.x-cpu-ml-scala2.12 or client.5")
# The build tools are python_env.yaml's; the model's own MLflow decides how it is loaded, and the runtime's databricks-* clients are not on public
# indexes at those builds: neither is constrained by the runtime's versions.
_NOT_CONSTRAINED = re.compile(r"^(mlflow|mlflow-skinny|mlflow-tracing|databricks-.*|pyspark|dbl-.*|pip|setuptools|wheel)$")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._\-]*)(\[[^\]]*\])?\s*(.*)$")
_BARE = re.compile(r"^(\d+)\.(\d+)$")
_PHOTON = re.compile(r"^(\d+\.\d+)\.x-photon-(scala[\d.]+)$")


@dataclass(frozen=True)
class RuntimeProfile:
    name: str                 # the table's name: 14.3.x-cpu-ml-scala2.12, client.5
    title: str                # what the source calls it
    python: str | None        # the runtime's Python series ("3.10")
    source: dict[str, str]    # repository, commit, path, date of the table
    packages: dict[str, str]  # normalized name -> version the runtime ships


@dataclass(frozen=True)
class Applied:
    """What a profile did to a model's spec, for the report and `inspect`."""

    runtime: str                                   # what MLmodel (or --runtime-profile) names
    profile: str | None                            # the table applied; None when none was
    why: str                                       # one line for reports
    pinned: tuple[str, ...] = ()                   # "numpy==1.23.5": the constraints the profile added
    gap: tuple[str, ...] = field(default=())       # the same names: what the runtime provided that requirements leave open

    def to_dict(self) -> dict[str, Any]:
        return {"runtime": self.runtime, "profile": self.profile, "why": self.why, "pinned": list(self.pinned)}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def available() -> list[str]:
    return sorted(path.stem for path in TABLES.glob("*.json"))


@cache
def load_profile(name: str) -> RuntimeProfile:
    path = TABLES / f"{name}.json"
    data = json.loads(path.read_text())
    packages = data.get("packages")
    if not isinstance(packages, dict) or not packages or not isinstance(data.get("source"), dict):
        raise ValueError(f"{path.name}: a runtime table needs `packages` and `source`")
    return RuntimeProfile(name=str(data["name"]), title=str(data.get("title") or name), python=data.get("python"),
                          source={k: str(v) for k, v in data["source"].items()},
                          packages={normalize(k): str(v).split("+")[0] for k, v in packages.items()})  # torch 2.0.1+cpu: the index has 2.0.1


def find_profile(runtime: str) -> tuple[RuntimeProfile | None, str]:
    """The table for what MLmodel's databricks_runtime says, and one line saying how it was chosen."""
    runtime = runtime.strip()
    names = set(available())
    if runtime in names:
        return load_profile(runtime), f"Databricks runtime {runtime}"
    bare = _BARE.match(runtime)
    if bare:  # DATABRICKS_RUNTIME_VERSION names the release, not the variant: models are trained on the ML one
        for candidate in (f"{runtime}.x-cpu-ml-scala2.12", f"{runtime}.x-cpu-ml-scala2.13"):
            if candidate in names:
                return load_profile(candidate), (f"Databricks runtime {runtime} (MLmodel names no variant; "
                                                 f"the ML CPU runtime {candidate} is assumed)")
    photon = _PHOTON.match(runtime)
    if photon and f"{photon.group(1)}.x-{photon.group(2)}" in names:  # Photon ships the standard runtime's Python libraries
        candidate = f"{photon.group(1)}.x-{photon.group(2)}"
        return load_profile(candidate), f"Databricks runtime {runtime} (Photon: the Python libraries of {candidate})"
    series = sorted({n.split(".x-")[0] for n in names if ".x-" in n}, key=lambda s: tuple(map(int, s.split("."))))
    clients = sorted(n for n in names if n.startswith("client."))
    return None, (f"envforge has no library table for Databricks runtime {runtime!r} (it has {', '.join(series)} "
                  f"and serverless {', '.join(clients)}), so the runtime's versions are not applied")


def requirement_pins(lines: tuple[str, ...] | list[str]) -> dict[str, str]:
    """normalized name -> the requirement's version specifier ('' when it names no version)."""
    out: dict[str, str] = {}
    for line in lines:
        if line.startswith(("-", "./", "/")) or "://" in line or " @ " in line:
            continue
        match = _NAME.match(line.split(";")[0])
        if match:
            out[normalize(match.group(1))] = match.group(3).strip()
    return out


def apply_profile(spec: EnvSpec, runtime: str | None, choice: str | None, resolve_mode: str | None) -> tuple[EnvSpec, Applied | None]:
    """The spec with the runtime's versions as constraints for what its requirements leave open.

    runtime: MLmodel's databricks_runtime; choice: --runtime-profile (None/"auto", "off", or a table name);
    resolve_mode: the --resolve mode (asof.py): the runtime is what `logged` means for such a model."""
    choice = (choice or "auto").strip()
    if choice == OFF:
        return spec, (Applied(runtime, None, "--runtime-profile off") if runtime else None)
    if choice != "auto":
        if choice not in available():
            raise UsageError(f"--runtime-profile {choice}: envforge has no table for that runtime.",
                             f"Use one of: {', '.join(available())}, or `off`.")
        runtime = choice
    elif not runtime or resolve_mode not in (None, "logged"):
        return spec, (Applied(runtime, None, f"--resolve {resolve_mode}: the runtime's versions are applied with "
                                             "--resolve logged only") if runtime else None)
    profile, why = find_profile(runtime)
    if profile is None:
        return replace(spec, notes=(*spec.notes, why + "; unpinned requirements resolve as of the logging date")), \
            Applied(runtime, None, why)
    named = requirement_pins([*spec.requirements, *spec.constraints])
    pinned = tuple(f"{name}=={version}" for name, version in sorted(profile.packages.items())
                   if not named.get(name) and not _NOT_CONSTRAINED.match(name))
    gap = tuple(p for p in pinned if p.split("==")[0] in named)
    python = spec.python
    notes = [f"runtime profile {profile.name} applied ({why}; table from {profile.source.get('repository')} "
             f"{profile.source.get('path')}, {profile.source.get('date')}): {len(pinned)} constraints"]
    if python is None and profile.python:
        python = profile.python
        notes.append(f"Python {python}: the runtime's (the model names none)")
    elif python and profile.python and not (python == profile.python or python.startswith(profile.python + ".")):
        notes.append(f"the model names Python {python}; runtime {profile.name} ran Python {profile.python}")
    new = replace(spec, constraints=(*spec.constraints, *pinned), python=python,
                  python_source=spec.python_source if python == spec.python else f"runtime {profile.name}",
                  notes=(*spec.notes, *notes))
    return new, Applied(runtime, profile.name, why, pinned, gap)


def inspect_entry(applied: Applied | None) -> dict[str, Any] | None:
    """`inspect`: the profile, why, where its table comes from, and what the runtime provided that the
    requirements do not pin (each becomes a constraint; `named_unpinned`: those the requirements name bare)."""
    if applied is None:
        return None
    entry: dict[str, Any] = applied.to_dict()
    if applied.profile:
        profile = load_profile(applied.profile)
        entry.update(title=profile.title, python=profile.python, source=profile.source,
                     provided_not_pinned=list(applied.pinned), named_unpinned=list(applied.gap))
        del entry["pinned"]
    return entry
