"""The gaps real models have, through the real CLI and real uv builds (issue 12, part 5).

A copy of vnb-statsmodels (a real user's model, MLflow 2.12.2, Python 3.11) is broken the two ways
real registries show: requirements.txt never saved (python_env.yaml still names it), and no env file
at all. verify builds from conda.yaml's pip section, then from what MLmodel records, and its JSON
report carries the warning. Two builds (the second differs only in its build dependencies), one home.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.support.cli import envforge
from tests.support.corpus import CORPUS, corpus_copy
from tests.support.corpus import MISSING as CORPUS_MISSING

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not CORPUS.is_dir(), reason=CORPUS_MISSING)]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gaps-home")


def _verify(model: Path, home: Path, report: Path) -> dict:
    run = envforge("verify", str(model), "--json", str(report), home=home, timeout=1800)
    assert "Traceback" not in run.output
    result = json.loads(report.read_text())["results"][0]
    assert result["exit_code"] == run.returncode and run.returncode in (0, 1), run.output[-3000:]
    assert result["status"] != "error" and result["env"]["path"], result  # the env was built
    return result


def _installed(result: dict) -> set[str]:
    site = next(Path(result["env"]["path"]).glob("lib/python3*/site-packages"))
    return {p.name.split(".dist-info")[0].lower() for p in site.glob("*.dist-info")}


def test_missing_requirements_txt_builds_from_conda_pip_section(tmp_path: Path, home: Path) -> None:
    intact = json.loads(envforge("inspect", str(corpus_copy("vnb-statsmodels", tmp_path / "intact")), "--json", home=home).stdout)
    model = corpus_copy("vnb-statsmodels", tmp_path / "gap")
    (model / "requirements.txt").unlink()
    inspected = json.loads(envforge("inspect", str(model), "--json", home=home).stdout)
    gap = ("python_env.yaml names requirements.txt, which is not in the model directory: envforge installs conda.yaml's "
           "pip section instead (mlflow==2.12.2, statsmodels==0.14.0), the list MLflow writes to both files")
    assert inspected["gaps"] == [gap]
    assert inspected["env_key"] == intact["env_key"]  # the same list, so the same environment
    result = _verify(model, home, tmp_path / "report.json")
    assert gap in result["warnings"]
    assert result["env"]["key"] == inspected["env_key"]
    assert {"mlflow-2.12.2", "statsmodels-0.14.0"} <= _installed(result)


def test_no_env_file_builds_from_what_mlmodel_records(tmp_path: Path, home: Path) -> None:
    model = corpus_copy("vnb-statsmodels", tmp_path)
    for name in ("python_env.yaml", "conda.yaml", "requirements.txt"):
        (model / name).unlink()
    inspected = json.loads(envforge("inspect", str(model), "--json", home=home).stdout)
    assert inspected["requirements"] == ["mlflow==2.12.2", "statsmodels==0.14.0"]
    assert inspected["python"] == "3.11.8 (from MLmodel)" and inspected["build_dependencies"] == ["pip", "setuptools", "wheel"]
    result = _verify(model, home, tmp_path / "report.json")
    assert result["env"]["key"] == inspected["env_key"] and result["env"]["logged_python"] == "3.11.8"
    assert [w for w in result["warnings"] if "envforge infers the requirements from MLmodel" in w] == inspected["gaps"]
    assert {"mlflow-2.12.2", "statsmodels-0.14.0"} <= _installed(result)


@pytest.mark.conda
def test_conda_backend_without_conda_yaml_builds_from_python_env(conda_channel: str, conda_packaged: dict,
                                                                 sklearn_model_template: Path, tmp_path: Path,
                                                                 home: Path) -> None:
    """A real model logged by MLflow in the test, its conda.yaml removed: the conda backend takes Python from
    the (local, real) conda channel and python_env.yaml's requirements with pip, and says so."""
    model = Path(shutil.copytree(sklearn_model_template, tmp_path / "iris"))
    (model / "conda.yaml").unlink()
    # The model was logged with the test venv's Python; the channel packages a CPython of the same minor that may
    # be another patch (a venv made from Debian's /usr/bin/python3 3.11.2, the channel's pyenv 3.11.7): ask for it.
    env_file = model / "python_env.yaml"
    python_env = yaml.safe_load(env_file.read_text())
    assert python_env["python"].rsplit(".", 1)[0] == conda_packaged["python_minor"]
    env_file.write_text(yaml.safe_dump({**python_env, "python": conda_packaged["python"]}, sort_keys=False))
    run = envforge("verify", str(model), "--backend", "conda", "--channel", conda_channel, "--json", str(tmp_path / "r.json"),
                   home=home, timeout=1800)
    result = json.loads((tmp_path / "r.json").read_text())["results"][0]
    assert run.returncode == 0 and result["status"] == "unverified", run.output[-3000:]  # it ran; nothing was recorded
    assert ("MLmodel names conda.yaml, which is not in the model directory: envforge builds from python_env.yaml instead "
            "(Python from conda, the requirements with pip)") in result["warnings"]
    assert "MLmodel names conda.yaml" in run.stdout
