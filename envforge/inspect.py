"""`envforge inspect`: what envforge reads from a model, without building anything."""

from __future__ import annotations

from typing import Any

from envforge import examples as examples_mod
from envforge import expectations as expectations_mod
from envforge.redact import redact
from envforge.resolve import resolve
from envforge.spec import load_spec
from envforge.spec.mlmodel import read_mlmodel


def inspect(uri: str, *, tracking_uri: str | None = None, backend: str = "uv") -> dict[str, Any]:
    model = resolve(uri, tracking_uri=tracking_uri)
    mlmodel = read_mlmodel(model.path)
    spec = load_spec(model.path, backend, mlmodel)
    found = expectations_mod.find(model.path)
    return {
        "uri": redact(uri),
        "model_dir": str(model.path),
        "flavors": list(mlmodel.flavors),
        "loader_module": mlmodel.loader_module,
        "mlflow_version": mlmodel.mlflow_version,
        "python": f"{spec.python} (from {spec.python_source})" if spec.python else "unknown",
        "requirements": list(spec.requirements),
        "constraints": list(spec.constraints),
        "build_dependencies": list(spec.build_dependencies),
        "index_options": [redact(o) for o in spec.index_options],
        "code_wheels": list(spec.code_wheels),
        "conda_dependencies": list(spec.conda_dependencies),
        "input_examples": [e["name"] for e in examples_mod.model_examples(model.path, mlmodel)],
        "expectations": str(found) if found else "none (run `envforge record`)",
        "env_key": spec.key,
        "notes": list(spec.notes),
    }
