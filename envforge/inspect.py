"""`envforge inspect`: what envforge reads from a model, without building anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from envforge import examples as examples_mod
from envforge import expectations as expectations_mod
from envforge.backends.base import BuildOptions, index_overrides
from envforge.errors import EnvforgeError
from envforge.redact import redact
from envforge.resolve import resolve
from envforge.spec import load_spec
from envforge.spec.mlmodel import MLmodel, read_mlmodel
from envforge.spec.wheels import find_wheels


def inspect(uri: str, *, tracking_uri: str | None = None, backend: str = "uv", index_url: str | None = None,
            extra_index_urls: tuple[str, ...] = (), find_links: tuple[str, ...] = (), resolve_as: str | None = None) -> dict[str, Any]:
    """The index options and the --resolve moment (resolve_as) change the env's key as they do for `verify`,
    so both print the same key."""
    from dataclasses import replace

    from envforge.asof import as_of_for

    model = resolve(uri, tracking_uri=tracking_uri)
    mlmodel = read_mlmodel(model.path)
    options = BuildOptions(index_url=index_url, extra_index_urls=extra_index_urls, find_links=find_links, resolve=resolve_as)
    as_of, as_of_warnings = as_of_for(mlmodel, backend, options)
    spec = load_spec(model.path, backend, mlmodel, index_overrides=index_overrides(options, backend))
    spec = replace(spec, resolved_as_of=as_of.moment, notes=spec.notes + as_of_warnings)
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
        "notes": list(spec.notes),
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
    return f"{found}: {len(recorded.examples)} example(s) ({names}) recorded with Python {recorded.python} at {recorded.recorded_at}"


__all__ = ["inspect"]
