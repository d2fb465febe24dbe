"""Known causes of load failures in rebuilt envs of old models, and WheeledModel specs."""

from __future__ import annotations

from pathlib import Path

from envforge.execution.diagnose import annotate, load_hint
from envforge.spec import load_spec

MLMODEL = "flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n    python_version: 3.9.12\n"
PYTHON_ENV = "python: 3.9.12\nbuild_dependencies:\n- pip==21.2.4\n- setuptools\ndependencies:\n- -r requirements.txt\n"


def _spec(tmp_path: Path, requirements: str, mlmodel: str = MLMODEL):
    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text(mlmodel)
    (model / "python_env.yaml").write_text(PYTHON_ENV)
    (model / "requirements.txt").write_text(requirements)
    return load_spec(model), model


def test_numpy_abi_break_names_numpy_the_version_and_the_failing_package(tmp_path: Path) -> None:
    spec, _ = _spec(tmp_path, "mlflow\nscikit-learn==1.0.2\n")
    error = {"type": "ValueError", "message": "numpy.dtype size changed, may indicate binary incompatibility.",
             "traceback": 'File "sklearn/utils/murmurhash.pyx", line 1, in init sklearn.utils.murmurhash\nValueError: ...'}
    hint = load_hint(error, ("numpy==2.0.2", "scikit-learn==1.0.2"), spec)
    assert hint and "numpy 2.0.2 was installed (no requirement of the model names numpy)" in hint
    assert "it failed importing sklearn.utils.murmurhash" in hint and "UV_CONSTRAINT" in hint


def test_missing_pkg_resources_names_the_unpinned_build_dependency(tmp_path: Path) -> None:
    spec, _ = _spec(tmp_path, "mlflow==2.5.0\n")
    error = {"type": "ModuleNotFoundError", "message": "No module named 'pkg_resources'"}
    hint = load_hint(error, ("setuptools==82.0.1",), spec)
    assert hint and "setuptools 82.0.1 was installed (python_env.yaml's build dependencies name `setuptools` without a version)" in hint
    assert "setuptools<81" in hint


def test_a_module_nothing_provides_points_at_code_paths(tmp_path: Path) -> None:
    spec, _ = _spec(tmp_path, "mlflow==3.9.0\n")
    hint = load_hint({"type": "ModuleNotFoundError", "message": "No module named 'custom_transformers'"}, ("mlflow==3.9.0",), spec)
    assert hint and "`custom_transformers`" in hint and "code_paths" in hint
    renamed = load_hint({"type": "ModuleNotFoundError", "message": "No module named 'numpy._core'"}, ("numpy==1.26.4",), spec)
    assert renamed and "numpy 1.26.4" in renamed and "another version of numpy" in renamed


def test_unknown_errors_get_no_hint_and_annotate_only_touches_load_errors(tmp_path: Path) -> None:
    spec, _ = _spec(tmp_path, "mlflow\n")
    assert load_hint({"type": "KeyError", "message": "'x'"}, ("numpy==2.0.2",), spec) is None
    data = {"load": {"ok": False, "error": {"type": "ModuleNotFoundError", "message": "No module named 'zz_missing'"}}}
    annotate(data, (), spec)
    assert "zz_missing" in data["load"]["error"]["hint"]
    passed = {"load": {"ok": True}}
    annotate(passed, (), spec)
    assert passed == {"load": {"ok": True}}


def test_wheeled_model_spec(tmp_path: Path) -> None:
    mlmodel = MLMODEL + "wheels:\n  platform: Linux-x86_64\nartifact_path: /abs/runs/1/artifacts/model_wheels\n"
    model = tmp_path / "model"
    (model / "wheels").mkdir(parents=True)
    for name in ("mlflow_skinny-3.17.2-py3-none-any.whl", "numpy-2.0.2-cp39-cp39-manylinux_2_17_x86_64.whl"):
        (model / "wheels" / name).write_bytes(name.encode())
    (model / "MLmodel").write_text(mlmodel)
    (model / "python_env.yaml").write_text(PYTHON_ENV)
    (model / "requirements.txt").write_text("wheels/mlflow_skinny-3.17.2-py3-none-any.whl\nwheels/numpy-2.0.2-cp39-cp39-manylinux_2_17_x86_64.whl\n")
    spec = load_spec(model)
    # mlflow-skinny's wheel counts as mlflow: no unpinned `mlflow` that would need an index
    assert spec.requirements == ("./wheels/mlflow_skinny-3.17.2-py3-none-any.whl", "./wheels/numpy-2.0.2-cp39-cp39-manylinux_2_17_x86_64.whl")
    assert spec.build_dependencies == () and any("WheeledModel" in n and "pip==21.2.4" in n for n in spec.notes)
    assert {token for token, _ in spec.file_hashes} == set(spec.requirements)
