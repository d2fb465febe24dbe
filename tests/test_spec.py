"""Spec parsing on model directories written by the tests and on the shared real-world corpus."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from envforge.errors import ModelDirError
from envforge.spec import load_spec
from envforge.spec.conda_env import read_conda_env
from envforge.spec.requirements import parse_file
from tests.support.corpus import CORPUS

MLMODEL = """\
flavors:
  python_function:
    loader_module: mlflow.sklearn
    python_version: 3.10.4
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
mlflow_version: 2.9.0
"""


def _model(tmp_path: Path, requirements: str = "mlflow==2.9.0\nscikit-learn==1.3.0\n", python_env: bool = True) -> Path:
    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text(MLMODEL)
    (model / "requirements.txt").write_text(requirements)
    if python_env:
        (model / "python_env.yaml").write_text(
            "python: 3.10.13\nbuild_dependencies:\n- pip==23.0\ndependencies:\n- -r requirements.txt\n")
    return model


def test_python_env_and_requirements(tmp_path: Path) -> None:
    spec = load_spec(_model(tmp_path))
    assert spec.python == "3.10.13" and spec.python_source == "python_env.yaml"
    assert spec.requirements == ("mlflow==2.9.0", "scikit-learn==1.3.0")
    assert spec.build_dependencies == ("pip==23.0",)


def test_requirements_syntax(tmp_path: Path) -> None:
    model = _model(tmp_path, "# comment\nmlflow==2.9.0  # pinned\nnumpy>=1.2,\\\n<2\n-c constraints.txt\n"
                             "--extra-index-url https://user:secret@pkgs.example/simple?x=1\n-r extra.txt\n"
                             "pandas; python_version >= '3.8'\n")
    (model / "constraints.txt").write_text("numpy<1.27\n")
    (model / "extra.txt").write_text("scipy==1.11.0\n")
    parsed = parse_file("requirements.txt", model)
    assert parsed.requirements == ["mlflow==2.9.0", "numpy>=1.2,<2", "scipy==1.11.0", "pandas; python_version >= '3.8'"]
    assert parsed.constraints == ["numpy<1.27"]
    assert parsed.options == ["--extra-index-url", "https://user:secret@pkgs.example/simple?x=1"]
    spec = load_spec(model)
    assert "secret" not in str(spec.to_dict())


def test_local_wheel_paths_stay_inside_and_feed_the_key(tmp_path: Path) -> None:
    model = _model(tmp_path, "mlflow\nwheels/pkg-1.0-py3-none-any.whl\n")
    (model / "wheels").mkdir()
    wheel = model / "wheels" / "pkg-1.0-py3-none-any.whl"
    wheel.write_bytes(b"one")
    first = load_spec(model)
    assert first.requirements == ("mlflow", "./wheels/pkg-1.0-py3-none-any.whl")
    wheel.write_bytes(b"two")
    assert load_spec(model).key != first.key


@pytest.mark.parametrize("line", ["../../etc/x.whl", "/etc/passwd.whl", "pkg @ file:///etc/x.whl", "-r ../outside.txt"])
def test_paths_outside_the_model_dir_are_refused(tmp_path: Path, line: str) -> None:
    model = _model(tmp_path, f"mlflow\n{line}\n")
    (tmp_path / "outside.txt").write_text("numpy\n")
    with pytest.raises(ModelDirError, match="outside the model directory"):
        load_spec(model)


def test_symlinked_wheel_pointing_outside_is_refused(tmp_path: Path) -> None:
    model = _model(tmp_path)
    (model / "code").mkdir()
    (tmp_path / "evil.whl").write_bytes(b"x")
    (model / "code" / "evil.whl").symlink_to(tmp_path / "evil.whl")
    with pytest.raises(ModelDirError, match="outside the model directory"):
        load_spec(model)


def test_code_wheels_are_collected_and_change_the_key(tmp_path: Path) -> None:
    model = _model(tmp_path)
    base = load_spec(model).key
    (model / "code").mkdir()
    (model / "code" / "helper-0.1-py3-none-any.whl").write_bytes(b"wheel")
    spec = load_spec(model)
    assert spec.code_wheels == ("./code/helper-0.1-py3-none-any.whl",)
    assert spec.key != base
    assert load_spec(model).key == spec.key  # stable
    assert load_spec(model, backend="virtualenv").key != spec.key


def test_unsupported_option_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelDirError, match="not supported"):
        load_spec(_model(tmp_path, "mlflow\n-e git+https://x/y.git#egg=y\n"))


def test_old_model_with_only_conda_yaml(tmp_path: Path) -> None:
    model = _model(tmp_path, python_env=False)
    (model / "requirements.txt").unlink()
    (model / "conda.yaml").write_text("channels: [conda-forge]\ndependencies:\n- python=3.8.10\n- pip<=21\n"
                                      "- scikit-learn=0.23.2\n- pip:\n  - mlflow\n  - cloudpickle==1.6.0\n")
    spec = load_spec(model)
    assert spec.python == "3.8.10" and spec.python_source == "conda.yaml"
    assert spec.requirements == ("mlflow", "cloudpickle==1.6.0")
    assert spec.conda_dependencies == ("scikit-learn=0.23.2",)
    assert any("scikit-learn=0.23.2" in note for note in spec.notes)


def test_python_falls_back_to_mlmodel(tmp_path: Path) -> None:
    model = _model(tmp_path, python_env=False)
    spec = load_spec(model)
    assert spec.python == "3.10.4" and spec.python_source == "MLmodel"


def test_mlflow_is_added_when_missing(tmp_path: Path) -> None:
    spec = load_spec(_model(tmp_path, "scikit-learn==1.3.0\n"))
    assert spec.requirements[-1] == "mlflow"


def test_conda_python_pins(tmp_path: Path) -> None:
    path = tmp_path / "conda.yaml"
    path.write_text("dependencies:\n- conda-forge::python=3.9.12\n- python_abi=3.9\n- pip\n")
    env = read_conda_env(path)
    assert env.python == "3.9.12" and env.conda_dependencies == ("python_abi=3.9",)


def test_corpus_is_beside_the_repository() -> None:
    assert len([p for p in CORPUS.iterdir() if p.is_dir()]) >= 8


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.iterdir() if p.is_dir()) if CORPUS.is_dir() else ["missing"])
def test_real_world_corpus_parses(tmp_path: Path, name: str) -> None:
    model = shutil.copytree(CORPUS / name, tmp_path / name)
    spec = load_spec(model)
    assert spec.python and spec.python.startswith("3.")
    assert any(r.startswith("mlflow") for r in spec.requirements)
    assert len(spec.key) == 64
