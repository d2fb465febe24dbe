"""`envforge inspect`: what envforge reads from a model, without building anything.

inspect never fails on a readable MLmodel (issue 12). When the env files are beyond repair (a
python_env.yaml that is not YAML, a requirement line that is not a requirement, a path outside
the model directory) or MLmodel has no python_function flavor, verify stops with exit 2; inspect
instead prints everything else it read, and a `gaps` entry saying what is wrong, that verify and
the other commands stop there, and how to fix it. An MLmodel that cannot be read at all (missing,
not YAML, not a mapping, too large, a symlink out of the directory) is still an error: there is
nothing to inspect.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from envforge.backends import get_backend
from envforge.backends.base import BuildOptions
from envforge.backends.index import index_overrides
from envforge.commands import implied_checks
from envforge.errors import EnvforgeError, ModelDirError
from envforge.modeldir import examples as examples_mod
from envforge.modeldir import expectations as expectations_mod
from envforge.modeldir.resolve import resolve
from envforge.redact import redact
from envforge.spec import load_spec
from envforge.spec.asof import as_of_for
from envforge.spec.flavors import needs as flavor_needs
from envforge.spec.mlmodel import MLmodel, read_mlmodel
from envforge.spec.runtime_profiles import apply_profile, inspect_entry
from envforge.spec.wheels import find_wheels


def inspect(uri: str, *, tracking_uri: str | None = None, backend: str = "uv", index_url: str | None = None,
            extra_index_urls: tuple[str, ...] = (), find_links: tuple[str, ...] = (), resolve_as: str | None = None,
            runtime_profile: str | None = None) -> dict[str, Any]:
    """The index options and the --resolve moment (resolve_as) change the env's key as they do for `verify`,
    so both print the same key."""
    model = resolve(uri, tracking_uri=tracking_uri)
    options = BuildOptions(index_url=index_url, extra_index_urls=extra_index_urls, find_links=find_links, resolve=resolve_as)
    try:
        mlmodel = read_mlmodel(model.path)
        as_of, as_of_warnings = as_of_for(mlmodel, get_backend(backend), options)
        spec = load_spec(model.path, backend, mlmodel, index_overrides=index_overrides(options, backend))
    except ModelDirError as exc:  # a readable MLmodel is always inspected: say what stops verify (unbuildable below)
        return unbuildable(uri, model.path, backend, exc)
    spec = replace(spec, resolved_as_of=as_of.moment, notes=spec.notes + as_of_warnings)
    spec = implied_checks.amend(spec, model.path, code_dir=mlmodel.code_dir)  # what the pickles import (issue 34)
    spec, runtime = apply_profile(spec, mlmodel.databricks_runtime, runtime_profile, as_of.mode)
    return {
        "uri": redact(uri),
        "model_dir": str(model.path),
        "flavors": list(mlmodel.flavors),
        "loader_module": mlmodel.loader_module,
        "logged_at": f"{mlmodel.utc_time_created} UTC" if mlmodel.utc_time_created else "not recorded in MLmodel (no utc_time_created)",
        "resolved_as_of": as_of.label(),
        "mlflow_version": mlmodel.mlflow_version or "not recorded in MLmodel (old MLflow 1.x releases did not write it)",
        "python": f"{spec.python} (from {spec.python_source})" if spec.python else "unknown (no python_env.yaml, conda.yaml pin or MLmodel python_version)",
        "env_files": _env_files(model.path, mlmodel),
        "requirements": list(spec.requirements),
        "constraints": list(spec.constraints),
        "build_dependencies": list(spec.build_dependencies),
        "index_options": [redact(o) for o in spec.index_options],
        "index_overrides": [redact(o) for o in spec.index_overrides],
        "code_wheels": list(spec.code_wheels),
        "wheels": _wheels(model.path, mlmodel),
        "conda_dependencies": list(spec.conda_dependencies),
        "input_examples": _examples(model.path, mlmodel),
        "expectations": _expectations(model.path),
        "backend": backend,
        "env_key": spec.key,
        "flavor_needs": [f"{n.flavor}: {n.what}" for n in flavor_needs(mlmodel.flavors)],  # beyond Python (spec/flavors.py)
        "runtime_profile": inspect_entry(runtime),  # what the Databricks runtime provided that requirements leave open
        "gaps": list(spec.gaps),  # what is missing and what envforge does about it (spec/fallbacks.py)
        "notes": [note for note in spec.notes if note not in spec.gaps],
    }


def _env_files(model_dir: Path, mlmodel: MLmodel) -> list[str]:
    names = dict.fromkeys([mlmodel.virtualenv_file or "python_env.yaml", "requirements.txt", "constraints.txt",
                           mlmodel.conda_file or "conda.yaml"])
    return [name for name in names if (model_dir / name).is_file()]


def _wheels(model_dir: Path, mlmodel: MLmodel) -> list[str]:
    """WheeledModel's wheels/ (the model's own copies of its dependencies)."""
    found = list(find_wheels(model_dir, "wheels"))
    if mlmodel.wheels_platform is not None:
        found.insert(0, f"(a WheeledModel; wheels downloaded on {mlmodel.wheels_platform})")
    return found


def _examples(model_dir: Path, mlmodel: MLmodel) -> list[str]:
    try:
        found = examples_mod.model_examples(model_dir, mlmodel)
    except EnvforgeError as exc:  # an example path outside the model: say so, inspect the rest
        return [f"unusable: {exc.message}"]
    if not found or mlmodel.example is None:
        return []  # printed as "(none)": verify then needs --input FILE
    info = mlmodel.example
    source = "MLmodel saved_input_example_info" if info.type or info.serving_path else "input_example.json (not declared in MLmodel)"
    detail = ", ".join(p for p in (f"type {info.type}" if info.type else "", f"orient {info.pandas_orient}" if info.pandas_orient else "") if p)
    line = f"{found[0]['name']}: {info.path} from {source}" + (f" ({detail})" if detail else "")
    serving = [f"serving example: {info.serving_path}"] if info.serving_path and (model_dir / info.serving_path).is_file() else []
    return [line, *serving]


def _expectations(model_dir: Path) -> str:
    found = expectations_mod.find(model_dir)
    if not found:
        return "none (run `envforge record`)"
    try:
        recorded = expectations_mod.load(found)
    except EnvforgeError as exc:
        return f"{found}: unusable ({exc.message})"
    names = ", ".join(e["name"] for e in recorded.examples)
    return f"{found}: {len(recorded.examples)} example(s) ({names}) recorded with Python {recorded.python} at {recorded.recorded_at} in {recorded.describe()}"


NOT_BUILT = "none: envforge builds nothing for this model until the gap above is fixed"


def unbuildable(uri: str, model_dir: Path, backend: str, error: ModelDirError) -> dict[str, Any]:
    """inspect's report for a model whose spec could not be read; re-raises `error` if MLmodel itself is unreadable."""
    raw = _readable_mlmodel(model_dir, error)
    try:
        mlmodel: MLmodel | None = read_mlmodel(model_dir)
    except ModelDirError:
        mlmodel = None
    flavors = raw.get("flavors") if isinstance(raw.get("flavors"), dict) else {}
    python_version = mlmodel.python_version if mlmodel else None
    gap = redact(f"{error.message.rstrip('.')}: verify and the other commands stop here (exit 2). {error.remedy}")
    empty: list[str] = []
    return {
        "uri": redact(uri),
        "model_dir": str(model_dir),
        "flavors": [str(f) for f in flavors],
        "loader_module": mlmodel.loader_module if mlmodel else None,
        "mlflow_version": str(raw.get("mlflow_version") or "not recorded in MLmodel (old MLflow 1.x releases did not write it)"),
        "python": f"{python_version} (from MLmodel)" if python_version else "unknown (not recorded in MLmodel)",
        "env_files": _env_files(model_dir, mlmodel) if mlmodel else _present(model_dir),
        "requirements": empty, "constraints": empty, "build_dependencies": empty, "index_options": empty,
        "index_overrides": empty, "code_wheels": empty,
        "wheels": _wheels(model_dir, mlmodel) if mlmodel else empty,
        "conda_dependencies": empty,
        "input_examples": _examples(model_dir, mlmodel) if mlmodel else empty,
        "expectations": _expectations(model_dir),
        "backend": backend,
        "env_key": NOT_BUILT,
        "gaps": [gap],
        "notes": empty,
    }


def _readable_mlmodel(model_dir: Path, error: ModelDirError) -> dict[str, Any]:
    from envforge.spec.inferred import raw_mlmodel

    path = model_dir / "MLmodel"
    if not path.is_file():
        raise error
    try:
        return raw_mlmodel(model_dir)
    except ModelDirError:
        raise error from None


def _present(model_dir: Path) -> list[str]:
    names = ("python_env.yaml", "requirements.txt", "constraints.txt", "conda.yaml")
    return [name for name in names if (model_dir / name).is_file()]


__all__ = ["inspect"]
