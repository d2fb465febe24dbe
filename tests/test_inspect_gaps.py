"""`envforge inspect` (the real CLI) never fails on a readable MLmodel: it says what is missing and what
envforge does about it, in text and JSON (`gaps`). Copies of the shared corpus; nothing is built."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import envforge
from tests.support.corpus import CORPUS, corpus_copy
from tests.support.corpus import MISSING as CORPUS_MISSING

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=CORPUS_MISSING)


def _inspect(model: Path, home: Path, *extra: str) -> tuple[str, dict]:
    text, as_json = envforge("inspect", str(model), *extra, home=home), envforge("inspect", str(model), "--json", *extra, home=home)
    assert text.returncode == 0 and as_json.returncode == 0, text.output + as_json.output
    assert "Traceback" not in text.output + as_json.output
    return text.stdout, json.loads(as_json.stdout)


def test_missing_requirements_txt_is_a_gap_in_inspect(tmp_path: Path) -> None:
    model = corpus_copy("boisalai-xgboost", tmp_path)
    (model / "requirements.txt").unlink()
    text, info = _inspect(model, tmp_path / "home")
    assert info["gaps"] and info["gaps"][0].startswith("python_env.yaml names requirements.txt, which is not in the model "
                                                        "directory: envforge installs conda.yaml's pip section instead")
    assert info["requirements"][-1] == "xgboost==1.7.6" and info["notes"] == []
    assert "gaps:\n  - python_env.yaml names requirements.txt, which is not in the model directory" in text


def test_no_env_file_inspect_shows_the_inferred_requirements(tmp_path: Path) -> None:
    model = corpus_copy("boisalai-xgboost", tmp_path)
    for name in ("python_env.yaml", "conda.yaml", "requirements.txt"):
        (model / name).unlink()
    text, info = _inspect(model, tmp_path / "home")
    assert info["requirements"] == ["mlflow==2.5.0", "xgboost==1.7.6"]
    assert info["python"] == "3.9.17 (from MLmodel)" and info["env_files"] == []
    assert "envforge infers the requirements from MLmodel: mlflow==2.5.0 (mlflow_version)" in info["gaps"][0]
    assert "envforge infers the requirements from MLmodel" in text and info["env_key"] in text


def test_no_mlflow_version_is_a_gap_with_the_logged_date(tmp_path: Path) -> None:
    _, info = _inspect(corpus_copy("talha-sklearn-condaonly", tmp_path), tmp_path / "home")
    assert info["mlflow_version"].startswith("not recorded in MLmodel")
    assert any("logged on 2021-09-22 (utc_time_created): envforge leaves `mlflow` unpinned" in g for g in info["gaps"])


def test_broken_python_env_yaml_inspect_reads_the_rest_and_verify_stops(tmp_path: Path) -> None:
    model = corpus_copy("vnb-statsmodels", tmp_path)
    (model / "python_env.yaml").write_text("python: [3.11\n")
    text, info = _inspect(model, tmp_path / "home")
    assert info["flavors"] == ["python_function", "statsmodels"] and info["mlflow_version"] == "2.12.2"
    assert info["python"] == "3.11.8 (from MLmodel)" and info["loader_module"] == "mlflow.statsmodels"
    assert info["env_files"] == ["python_env.yaml", "requirements.txt", "conda.yaml"]
    assert info["requirements"] == [] and info["env_key"].startswith("none: envforge builds nothing")
    assert len(info["gaps"]) == 1 and "is not valid YAML" in info["gaps"][0]
    assert "verify and the other commands stop here (exit 2). Fix or re-log python_env.yaml." in info["gaps"][0]
    assert "is not valid YAML" in text
    verify = envforge("verify", str(model), home=tmp_path / "home")
    assert verify.returncode == 2 and "not valid YAML" in verify.output  # unchanged: a broken python_env.yaml is not filled
    _, conda = _inspect(model, tmp_path / "home", "--backend", "conda")  # the conda backend builds from conda.yaml
    assert conda["python"] == "3.11.8 (from conda.yaml)" and conda["gaps"] == []


def test_bad_requirement_line_is_reported_not_raised(tmp_path: Path) -> None:
    model = corpus_copy("vnb-statsmodels", tmp_path)
    (model / "requirements.txt").write_text("mlflow==2.12.2\nnumpy; rm -rf /\n")
    _, info = _inspect(model, tmp_path / "home")
    assert "requirements.txt, line 2: 'numpy; rm -rf /' is not a valid requirement" in info["gaps"][0]


def test_mlmodel_without_python_function_is_inspected(tmp_path: Path) -> None:
    model = corpus_copy("vnb-statsmodels", tmp_path)
    (model / "MLmodel").write_text("flavors:\n  statsmodels:\n    statsmodels_version: 0.14.0\nmlflow_version: 2.12.2\n")
    _, info = _inspect(model, tmp_path / "home")
    assert info["flavors"] == ["statsmodels"] and info["python"] == "unknown (not recorded in MLmodel)"
    assert "has no python_function flavor" in info["gaps"][0] and "exit 2" in info["gaps"][0]


@pytest.mark.parametrize("content", ["flavors: [unclosed\n", "- a\n- b\n"])
def test_an_unreadable_mlmodel_is_still_an_error(tmp_path: Path, content: str) -> None:
    model = corpus_copy("vnb-statsmodels", tmp_path)
    (model / "MLmodel").write_text(content)
    run = envforge("inspect", str(model), home=tmp_path / "home")
    assert run.returncode == 2 and ("not valid YAML" in run.output or "not a mapping" in run.output), run.output
    assert "Traceback" not in run.output
