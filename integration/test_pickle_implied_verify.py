"""Issue 34: a model whose pickle imports a module its requirements omit, verified for real.

Real MLflow logs a scikit-learn model (cloudpickle, as MLflow 2 wrote them) whose requirements name
mlflow-skinny but not scikit-learn; real uv builds the env and the model loads in its own process.
Without --add-implied the load fails and the verdict names the distribution and the fix; with it,
scikit-learn at MLmodel's sklearn_version joins the env and the model predicts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import envforge, report

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import mlflow
    from sklearn.linear_model import LogisticRegression

    path = tmp_path_factory.mktemp("implied-verify") / "model"
    mlflow.sklearn.save_model(LogisticRegression().fit([[0.0, 1.0], [1.0, 0.0]], [0, 1]), str(path), serialization_format="cloudpickle",
                              pip_requirements=[f"mlflow-skinny=={mlflow.__version__}", "numpy", "pandas", "cloudpickle"],
                              input_example=[[0.5, 0.5]])
    return path


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("implied-home")


def test_the_load_error_names_the_distribution_the_pickle_needs(model: Path, home: Path, tmp_path: Path) -> None:
    run = envforge("verify", str(model), "--resolve", "latest", "--json", str(tmp_path / "r.json"), home=home)
    assert run.returncode == 1, run.output
    result = report(tmp_path / "r.json")
    assert "No module named 'sklearn'" in result["reason"]
    assert "the pickle (model.pkl) imports sklearn, which no requirement provides" in result["reason"]
    assert "--add-implied" in result["reason"]
    assert any("imports sklearn" in w for w in result["warnings"])


def test_add_implied_adds_scikit_learn_at_the_logged_version_and_the_model_predicts(model: Path, home: Path, tmp_path: Path) -> None:
    import sklearn

    run = envforge("verify", str(model), "--resolve", "latest", "--add-implied", "--json", str(tmp_path / "r.json"), home=home)
    assert run.returncode == 0, run.output
    result = report(tmp_path / "r.json")
    assert result["status"] == "unverified" and "predictions ran" in result["reason"]
    assert any(f"verified with added requirement(s) scikit-learn=={sklearn.__version__}" in w for w in result["warnings"])
