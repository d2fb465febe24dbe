"""The corpus-platforms models (real models other people logged: two on Databricks, a pyfunc with a code/
folder, an MLeap-only one), copied to a temp dir, through the real CLI: each gets its runtime profile or its
specific reason. One real build (the Databricks 15.1 model under uv) checks that the runtime's versions are the
ones installed; everything else stops before a build."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.cli import envforge
from tests.support.corpus import CORPUS_PLATFORMS, platforms_copy

pytestmark = pytest.mark.skipif(not CORPUS_PLATFORMS.is_dir(), reason=f"the platforms corpus is not at {CORPUS_PLATFORMS}")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


def _inspect(model: Path, home: Path, *extra: str) -> dict:
    run = envforge("inspect", str(model), "--json", *extra, home=home)
    assert run.returncode == 0 and "Traceback" not in run.output, run.output
    return json.loads(run.stdout)


def _verify(model: Path, home: Path, tmp_path: Path, *extra: str) -> tuple[int, dict, str]:
    report = tmp_path / "report.json"
    run = envforge("verify", str(model), "--json", str(report), *extra, home=home)
    assert "Traceback" not in run.output, run.output
    data = json.loads(report.read_text()) if report.is_file() else {}
    return run.returncode, (data.get("results") or [data])[0], run.output


def test_databricks_15_1_model_gets_the_ml_runtime_profile(tmp_path: Path, home: Path) -> None:
    model = platforms_copy("mlflowexport-sklearn-dbr", tmp_path)
    info = _inspect(model, home)
    profile = info["runtime_profile"]
    assert profile["runtime"] == "15.1" and profile["profile"] == "15.1.x-cpu-ml-scala2.12" and "no variant" in profile["why"]
    assert "numpy==1.23.5" in profile["provided_not_pinned"] and "pandas==1.5.3" in profile["provided_not_pinned"]
    assert "numpy==1.23.5" in info["constraints"] and not any(c.startswith("scikit-learn==") for c in info["constraints"])
    assert profile["source"]["repository"] and profile["source"]["date"]
    off = _inspect(model, home, "--runtime-profile", "off")
    assert off["constraints"] == [] and off["env_key"] != info["env_key"]
    latest = _inspect(model, home, "--resolve", "latest")
    assert latest["runtime_profile"]["profile"] is None and latest["constraints"] == []


def test_serverless_client_5_model_gets_its_profile(tmp_path: Path, home: Path) -> None:
    model = platforms_copy("mattia-sklearn-dbr-mlf314", tmp_path)
    profile = _inspect(model, home)["runtime_profile"]
    assert profile["profile"] == "client.5" and profile["python"] == "3.12"
    assert "pyarrow==21.0.0" in profile["provided_not_pinned"]
    assert not any(p.startswith(("numpy==", "scikit-learn==", "mlflow")) for p in profile["provided_not_pinned"])  # pinned by the model


def test_an_unknown_runtime_says_so(tmp_path: Path, home: Path) -> None:
    model = platforms_copy("mlflowexport-sklearn-dbr", tmp_path)
    mlmodel = model / "MLmodel"
    mlmodel.write_text(mlmodel.read_text().replace("databricks_runtime: '15.1'", "databricks_runtime: '10.4.x-cpu-ml-scala2.12'"))
    info = _inspect(model, home)
    assert info["runtime_profile"]["profile"] is None and "no library table for Databricks runtime '10.4.x-cpu-ml-scala2.12'" \
        in info["runtime_profile"]["why"]
    assert info["constraints"] == [] and any("logging date" in n for n in info["notes"])


def test_mleap_only_model_is_exit_2_with_its_flavors(tmp_path: Path, home: Path) -> None:
    model = platforms_copy("mlflowfork-mleap-regression", tmp_path)
    code, result, output = _verify(model, home, tmp_path)
    assert code == 2, output
    assert "envforge runs python_function models; this model's flavors are mleap" in result["reason"] + output
    assert "MLeap runtime" in output


def test_r_only_mlmodel_is_exit_2(tmp_path: Path, home: Path) -> None:
    model = tmp_path / "r-model"
    model.mkdir()
    (model / "MLmodel").write_text("flavors:\n  crate:\n    version: 0.0.1\n    model: crate.bin\n")
    code, _result, output = _verify(model, home, tmp_path)
    assert code == 2 and "this model's flavors are crate" in output and "an R installation" in output


def test_code_folder_model_with_missing_artifacts_says_which(tmp_path: Path, home: Path) -> None:
    model = platforms_copy("xiyuhao-pyfunc-code-torch", tmp_path)
    assert _inspect(model, home)["flavors"] == ["python_function"]
    (model / "artifacts" / "titanic_model.pt").unlink()
    code, _result, output = _verify(model, home, tmp_path)
    assert code == 2 and "artifacts/titanic_model.pt" in output and "declares artifacts that are not in" in output
    assert "built" not in output


def test_a_model_naming_external_resources_is_unverified_before_building(tmp_path: Path, home: Path) -> None:
    model = platforms_copy("mlflowexport-sklearn-dbr", tmp_path)
    with (model / "MLmodel").open("a") as handle:  # what MLflow writes for a model that queries an endpoint
        handle.write("resources:\n  api_version: '1'\n  databricks:\n    serving_endpoint:\n    - name: my-llm-endpoint\n")
    code, result, output = _verify(model, home, tmp_path)
    assert code == 0 and result["status"] == "unverified", output
    assert "databricks serving_endpoint my-llm-endpoint" in result["reason"]
    assert [s["name"] for s in result["steps"]] == ["resolve"]  # nothing was built


@pytest.mark.slow
def test_the_runtime_versions_are_the_ones_installed(tmp_path: Path, home: Path) -> None:
    """A real uv build of the 15.1 model: requirements.txt names scikit-learn, cloudpickle, lz4, psutil only; numpy,
    pandas and scipy come out at the runtime's versions. The model pins psutil==5.9.0, which has no wheel for the
    runtime's Python 3.11 (Databricks built it): without --allow-source-builds that is the verdict (measured: exit 3
    after a 7 s dry resolve); with it psutil compiles from source (~40 s on 2 loaded cores)."""
    model = platforms_copy("mlflowexport-sklearn-dbr", tmp_path)
    code, result, output = _verify(model, home, tmp_path, "--backend", "uv")
    assert code == 3 and "psutil==5.9.0" in result["error"]["message"], output
    code, result, output = _verify(model, home, tmp_path, "--backend", "uv", "--allow-source-builds")
    assert code == 0 and result["status"] in ("unverified", "passed"), output
    assert result["env"]["runtime_profile"]["profile"] == "15.1.x-cpu-ml-scala2.12"
    site = next(Path(result["env"]["path"]).glob("lib/python*/site-packages"))
    installed = {p.name.split("-")[0].lower(): p.name.removesuffix(".dist-info").split("-")[1] for p in site.glob("*.dist-info")}
    assert installed["numpy"] == "1.23.5" and installed["pandas"] == "1.5.3" and installed["scipy"] == "1.11.1"


@pytest.mark.slow
@pytest.mark.parametrize(("name", "python", "pin"), [("mattia-sklearn-dbr-mlf314", "3.12", "psutil==5.9.0"),
                                                    ("xiyuhao-pyfunc-code-torch", "3.7", "pyyaml==5.1b7")])
def test_the_other_builds_end_with_the_pin_that_has_no_wheel(tmp_path: Path, home: Path, name: str, python: str, pin: str) -> None:
    """The corpus outcome of the serverless model (its runtime's Python 3.12) and of the 2020 code-folder model under
    the default uv backend: each stops at the dry resolve, naming the pin without a wheel (measured: ~16 s each)."""
    code, result, output = _verify(platforms_copy(name, tmp_path), home, tmp_path)
    assert code == 3 and result["status"] == "error", output
    assert re.search(rf"A dry resolve for Python {re.escape(python)}\.\d+ finds no wheel for `{re.escape(pin)}`", result["reason"])
    assert "--allow-source-builds" in output
