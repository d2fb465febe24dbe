"""The model's pickles against its requirements, before anything is built (issue 34).

`amend(spec, ...)`: notes (inspect's notes, verify's warnings) for every module a pickle imports that no
requirement provides, and for the dangerous callables a pickle names; with --add-implied, the
distributions envforge knows for those modules join the requirements (at the version MLmodel records,
else unpinned: resolved as of the --resolve moment like every unpinned requirement), which changes the
env's key. `annotate(data, ...)`: a load that then fails with ModuleNotFoundError for such a module gets
a hint naming the distribution and the fix.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from envforge.modeldir.pickles import PickleScan, scan
from envforge.spec import EnvSpec
from envforge.spec.implied import Implied, missing
from envforge.spec.inferred import raw_mlmodel

ADD_FLAG = "--add-implied"


def findings(spec: EnvSpec, model_dir: Path, code_dir: str | None = None) -> tuple[PickleScan, list[Implied]]:
    """The static scan of the model's pickles, and what it implies that the spec's requirements lack."""
    found = scan(model_dir)
    if not found.modules:
        return found, []
    try:
        flavors = raw_mlmodel(model_dir).get("flavors") or {}
    except Exception:  # an MLmodel verify already read; a flavor's version is only a nicety here
        flavors = {}
    lines = [*spec.requirements, *spec.build_dependencies, *spec.conda_dependencies, *spec.code_wheels]
    return found, missing(found.modules, lines, _own_modules(model_dir, code_dir), flavors if isinstance(flavors, dict) else {})


def _own_modules(model_dir: Path, code_dir: str | None) -> set[str]:
    """Top-level modules the model ships (code_paths): a pickle importing them needs no distribution."""
    code = model_dir / (code_dir or "code")
    if not code.is_dir():
        return set()
    return {p.stem if p.suffix == ".py" else p.name for p in code.iterdir() if p.suffix == ".py" or p.is_dir()}


def describe(item: Implied) -> str:
    files = ", ".join(item.files[:3]) + (" ..." if len(item.files) > 3 else "")
    if item.distribution is None:
        return (f"the pickle ({files}) imports {item.module}, which no requirement provides and no distribution envforge knows "
                f"installs: the training project's own code (re-log with code_paths=[...] holding {item.module}) or a "
                "requirement missing from the model")
    return (f"the pickle ({files}) imports {item.module}, which no requirement provides: pass {ADD_FLAG} to add "
            f"`{item.requirement}`" + ("" if item.pin else " (unpinned: MLmodel records no version of it)")
            + f", or add {item.distribution} to the model's requirements")


def amend(spec: EnvSpec, model_dir: Path, add: bool = False, code_dir: str | None = None) -> EnvSpec:
    """The spec with the pickles' findings as notes; with `add` (--add-implied) the known distributions added."""
    found, implied = findings(spec, model_dir, code_dir)
    notes = [describe(item) for item in implied if not (add and item.distribution)]
    if found.dangerous:
        notes.append("the pickle names callables no model needs: " + ", ".join(found.dangerous[:8])
                     + " (envforge never unpickles it in its own process; the model runs in the sandbox; know what you load)")
    added = [item.requirement for item in implied if add and item.requirement]
    if added:
        notes.append(f"verified with added requirement(s) {', '.join(added)} ({ADD_FLAG}): the pickle imports "
                     f"{', '.join(i.module for i in implied if i.requirement in added)}, which the model's requirements omit")
    if not notes:
        return spec
    requirements = (*spec.requirements, *[a for a in added if a])
    return replace(spec, requirements=requirements, notes=(*spec.notes, *notes))


def annotate(data: dict[str, Any], spec: EnvSpec, model_dir: Path) -> None:
    """A load error `No module named 'xgboost'` that the pickle scan predicted: the hint names the distribution and the fix."""
    load = data.get("load") or {}
    error = load.get("error")
    if load.get("ok") or not isinstance(error, dict) or error.get("type") not in ("ModuleNotFoundError", "ImportError"):
        return
    message = str(error.get("message") or "")
    try:
        _, implied = findings(spec, model_dir)
    except Exception:  # the hint is a nicety: the load error stands without it
        return
    for item in implied:
        if f"'{item.module}'" in message or f"'{item.module}." in message:
            error["hint"] = describe(item)
            return
