"""Why a rebuilt environment could not load a model, when the cause is a known one.

Old models meet new packages: an unpinned numpy resolves to 2.x under binaries compiled for
1.x, an unpinned setuptools no longer ships pkg_resources, a pickle refers to a module that was
never logged. The runner reports the exception; this adds which package, which version, and what
to pin. Read-only: it never changes the result's status.
"""

from __future__ import annotations

import re
from typing import Any

from envforge.spec import EnvSpec

_NUMPY_ABI = ("numpy.dtype size changed", "compiled using NumPy 1.x", "_ARRAY_API not found",
              "numpy.core.multiarray failed to import", "numpy.core._multiarray_umath")
_MISSING = re.compile(r"No module named '(?P<name>[A-Za-z0-9_.]+)'")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*")
_FAILED_IN = re.compile(r"in init (?P<module>[A-Za-z0-9_.]+)|site-packages/(?P<package>[A-Za-z0-9_]+)/")
_CONSTRAIN = "constrain it without editing the model (a constraints file named by UV_CONSTRAINT for uv, PIP_CONSTRAINT for pip)"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _installed(installed: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for line in installed:
        name, sep, version = line.partition("==")
        if sep:
            out[_norm(name)] = version
    return out


def _named(spec: EnvSpec, name: str) -> str:
    """How the model asks for `name`: where, and with which line."""
    for lines, where in ((spec.build_dependencies, "python_env.yaml's build dependencies"),
                         (spec.requirements, "the model's requirements"), (spec.constraints, "the model's constraints")):
        for line in lines:
            match = _NAME.match(line)
            if match and _norm(match.group(0)) == name:
                return f"{where} ask for `{line}`" if line.strip() != match.group(0) else f"{where} name `{line}` without a version"
    return f"no requirement of the model names {name}"


def _failed_in(error: dict[str, Any]) -> str:
    found = [m.group("module") or m.group("package") for m in _FAILED_IN.finditer(str(error.get("traceback") or ""))]
    return f" (it failed importing {found[-1]})" if found else ""


def load_hint(error: dict[str, Any], installed: tuple[str, ...], spec: EnvSpec) -> str | None:
    """A diagnosis for a load error, naming the package, its version and the model file; or None."""
    message = f"{error.get('type')}: {error.get('message')}"
    versions = _installed(installed)
    if any(marker in message for marker in _NUMPY_ABI) and "numpy" in versions:
        return (f"numpy {versions['numpy']} was installed ({_named(spec, 'numpy')}), but compiled code in the env was "
                f"built for another numpy major version{_failed_in(error)}; the training environment most likely had "
                f"numpy<2: {_CONSTRAIN}, or re-log the model with numpy pinned")
    missing = _MISSING.search(message)
    if not missing:
        return None
    full = missing.group("name")
    module = full.split(".")[0]
    if module == "pkg_resources" and "setuptools" in versions:
        return (f"setuptools {versions['setuptools']} was installed ({_named(spec, 'setuptools')}) and no longer ships "
                f"pkg_resources, which code of that era imports: {_CONSTRAIN} to setuptools<81")
    if _norm(module) in versions and full != module:
        return (f"the model refers to `{full}`, which {module} {versions[_norm(module)]} installed here does not have: "
                f"it was saved with another version of {module}; {_CONSTRAIN} to the training environment's version")
    if _norm(module) not in versions and _named(spec, _norm(module)).startswith("no requirement"):
        return (f"the model imports `{module}`, which nothing installed or shipped with it provides: either a package "
                "missing from its requirements, or the training project's own code pickled by reference (re-log it "
                f"with code_paths=[...] holding `{module}`)")
    return None


def annotate(data: dict[str, Any], installed: tuple[str, ...], spec: EnvSpec) -> None:
    """Add a `hint` to the runner's load error (in place), when there is one to give."""
    load = data.get("load") or {}
    error = load.get("error")
    if not load.get("ok") and isinstance(error, dict):
        hint = load_hint(error, installed, spec)
        if hint:
            error["hint"] = hint
