"""What a model needs from the machine beyond its Python packages, checked around the build.

Before the build: a model that names external resources, needs an API key or is a models-from-code
script gets an UNVERIFIED reason (spec/flavors.py); declared artifacts missing from the directory and
a Spark model without a Java runtime are errors with their remedy. After the build:
the env's compiled extensions are read for shared libraries the machine (backends/native_libs.py) or the
image (backends/docker/native.py) lacks;
when the model then fails to load, that is the verdict instead of the loader's OSError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from envforge.backends import native_libs
from envforge.backends.base import Backend, ContainerBackend, Env
from envforge.errors import EXIT_ENV
from envforge.execution import java
from envforge.result import ERROR, FAILED, VerifyResult
from envforge.spec import EnvSpec
from envforge.spec import flavors as flavors_mod
from envforge.spec.mlmodel import MLmodel


def pinned_version(spec: EnvSpec, name: str) -> str | None:
    for line in [*spec.requirements, *spec.constraints, *spec.conda_dependencies]:
        match = re.match(rf"^\s*{re.escape(name)}\s*==?\s*([0-9][^\s,;]*)", line, re.I)
        if match:
            return match.group(1)
    return None


def before_build(model_dir: Any, mlmodel: MLmodel, spec: EnvSpec, backend: Backend) -> str | None:
    """An UNVERIFIED reason, or None to go on; raises what no build can fix (missing artifacts, no JRE)."""
    flavors_mod.check_before_build(model_dir, mlmodel.flavors, mlmodel.pyfunc_artifacts)
    reason = flavors_mod.unverifiable_reason(mlmodel.flavors, mlmodel.model_code_path, mlmodel.resources)
    if reason:
        return reason
    jvm = [n for n in flavors_mod.needs(mlmodel.flavors) if n.kind == flavors_mod.JAVA]
    if jvm and not isinstance(backend, ContainerBackend):
        java.require_java(f"the model's {jvm[0].flavor} flavor needs {jvm[0].what}", pinned_version(spec, "pyspark"))
    return None


@dataclass(frozen=True)
class NativeCheck:
    missing: list[native_libs.Missing] = field(default_factory=list)
    reason: str = ""

    def __bool__(self) -> bool:
        return bool(self.missing)


def missing_native(env: Env, backend: Backend) -> NativeCheck:
    """The libraries the env's extensions need that this machine (host backends) or the image (docker) lacks."""
    if isinstance(backend, ContainerBackend):
        check = getattr(backend, "native_check", None)  # the docker backend checked its image when it built it
        if check is None:
            return NativeCheck()
        missing, reason = check(env.path)
        return NativeCheck(missing, reason)
    missing = native_libs.missing_libraries(env.path)
    return NativeCheck(missing, native_libs.reason(missing) if missing else "")


def note_native(result: VerifyResult, missing: NativeCheck) -> None:
    if missing:
        result.warnings.append(missing.reason)


def explain_load_failure(result: VerifyResult, missing: NativeCheck) -> VerifyResult:
    """A model that failed to load on an env missing shared libraries: the libraries are the verdict. One whose
    Spark JVM did not start (java.py): the Java runtime is, not the model."""
    stage = (result.model_error or {}).get("stage")
    if missing and result.status == FAILED and stage == "load":
        return result.finish(ERROR, missing.reason, EXIT_ENV)
    jvm = java.gateway_failure(result.model_error or {}) if result.status == FAILED and stage in ("load", None) else None
    return result.finish(ERROR, jvm, EXIT_ENV) if jvm else result
