"""MLmodel: flavors, the logged Python version, env file names, the input example."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envforge.errors import ModelDirError
from envforge.spec.paths import inside
from envforge.spec.yamlfile import read_mapping


@dataclass(frozen=True)
class ExampleInfo:
    path: str  # relative to the model directory
    type: str | None
    pandas_orient: str | None
    serving_path: str | None


@dataclass(frozen=True)
class MLmodel:
    flavors: tuple[str, ...]
    loader_module: str | None
    python_version: str | None
    conda_file: str | None
    virtualenv_file: str | None
    code_dir: str | None
    mlflow_version: str | None
    model_id: str | None
    run_id: str | None
    example: ExampleInfo | None
    wheels_platform: str | None = None  # set by MLflow's WheeledModel: the model ships its dependencies in wheels/
    utc_time_created: str | None = None  # when MLflow logged it (UTC): what `--resolve logged` resolves as of (asof.py)
    databricks_runtime: str | None = None  # the Databricks runtime it was logged on (spec/runtime_profiles.py)
    pyfunc_artifacts: tuple[str, ...] = ()  # python_function's declared artifacts (paths in the model directory)
    model_code_path: str | None = None  # a models-from-code model's source file
    resources: tuple[str, ...] = ()  # external resources MLmodel names (serving endpoints, vector indexes…)


def read_mlmodel(model_dir: Path) -> MLmodel:
    path = model_dir / "MLmodel"
    if path.is_symlink():
        path = inside(model_dir, "MLmodel", "MLmodel (a symlink)")
    if not path.is_file():
        raise ModelDirError(
            f"No MLmodel file in {model_dir}: this is not an MLflow model directory.",
            "Point envforge at the directory that holds MLmodel (for a run, include the model's artifact path, e.g. runs:/<run_id>/model).",
        )
    data = read_mapping(path, "MLmodel")
    flavors = data.get("flavors")
    if not isinstance(flavors, dict) or not flavors:
        raise ModelDirError(f"MLmodel at {path} declares no flavors.", "Re-log the model with an MLflow flavor (e.g. mlflow.sklearn.log_model).")
    pyfunc = flavors.get("python_function")
    if not isinstance(pyfunc, dict):
        from envforge.spec.flavors import no_pyfunc_error

        raise no_pyfunc_error(path, [str(f) for f in flavors])
    env = pyfunc.get("env")
    conda_file = virtualenv_file = None
    if isinstance(env, dict):
        conda_file = _str(env.get("conda"))
        virtualenv_file = _str(env.get("virtualenv"))
    elif isinstance(env, str):  # MLflow 1.x wrote `env: conda.yaml`
        conda_file = env
    return MLmodel(
        flavors=tuple(str(f) for f in flavors),
        loader_module=_str(pyfunc.get("loader_module")),
        python_version=_str(pyfunc.get("python_version")),
        conda_file=conda_file,
        virtualenv_file=virtualenv_file,
        code_dir=_str(pyfunc.get("code")),
        mlflow_version=_str(data.get("mlflow_version")),
        model_id=_str(data.get("model_id")),
        run_id=_str(data.get("run_id")),
        example=_example(data.get("saved_input_example_info"), model_dir),
        wheels_platform=_wheels_platform(data.get("wheels")),
        utc_time_created=_str(data.get("utc_time_created")),
        databricks_runtime=_str(data.get("databricks_runtime")),
        pyfunc_artifacts=_artifact_paths(pyfunc.get("artifacts")),
        model_code_path=_str(pyfunc.get("model_code_path") or data.get("model_code_path")),
        resources=_resources(data.get("resources")),
    )


def _artifact_paths(artifacts: Any) -> tuple[str, ...]:
    if not isinstance(artifacts, dict):
        return ()
    out = []
    for value in artifacts.values():
        path = value.get("path") if isinstance(value, dict) else None
        if isinstance(path, str) and path:
            out.append(path)
    return tuple(out)


def _resources(resources: Any) -> tuple[str, ...]:
    """MLflow's `resources: {api_version: "1", databricks: {serving_endpoint: [{name: …}], …}}` as "kind name" lines."""
    out: list[str] = []
    if isinstance(resources, dict):
        for platform, kinds in resources.items():
            if platform == "api_version" or not isinstance(kinds, dict):
                continue
            for kind, items in kinds.items():
                for item in items if isinstance(items, list) else [items]:
                    name = item.get("name") if isinstance(item, dict) else item
                    out.append(f"{platform} {kind} {name}")
    return tuple(out)


def _wheels_platform(wheels: Any) -> str | None:
    if isinstance(wheels, dict):
        return str(wheels.get("platform") or "unknown platform")
    return None if wheels is None else "unknown platform"


def _example(info: Any, model_dir: Path) -> ExampleInfo | None:
    if isinstance(info, dict) and _str(info.get("artifact_path")):
        return ExampleInfo(
            path=str(info["artifact_path"]),
            type=_str(info.get("type")),
            pandas_orient=_str(info.get("pandas_orient")),
            serving_path=_str(info.get("serving_input_path")),
        )
    if (model_dir / "input_example.json").is_file():  # logged without saved_input_example_info
        return ExampleInfo(path="input_example.json", type=None, pandas_orient=None, serving_path=None)
    return None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
