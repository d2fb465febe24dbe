"""Issue 34: the modules a model's pickles import, read statically, against its requirements.

Models are logged by real MLflow here (a tiny scikit-learn model whose requirements omit scikit-learn; a
pyfunc whose cloudpickle names a module by subimport) and one from the shared corpus is copied in. Nothing
is built: inspect and load_model read the pickles and the spec only.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from envforge.backends.build_options import BuildOptions
from envforge.commands import implied_checks
from envforge.commands.inspect_model import inspect
from envforge.modeldir.pickles import scan
from envforge.pipeline import load_model

CORPUS = Path("/work/shared/corpus")


@pytest.fixture(scope="module")
def sklearn_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real MLflow sklearn model whose requirements name mlflow and numpy but not scikit-learn."""
    import mlflow
    import sklearn
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [1.0, 1.0]], [0, 1, 0, 1])
    path = tmp_path_factory.mktemp("implied") / "model"
    # cloudpickle, as every MLflow release before 3 wrote it (MLflow 3 defaults to skops, which is not a pickle)
    mlflow.sklearn.save_model(model, str(path), pip_requirements=[f"mlflow=={mlflow.__version__}", "numpy"], serialization_format="cloudpickle")
    assert "scikit-learn" not in (path / "requirements.txt").read_text()
    path.joinpath("sklearn_version").write_text(sklearn.__version__)
    return path


def test_scan_reads_the_globals_without_unpickling(sklearn_model: Path) -> None:
    found = scan(sklearn_model)
    assert found.files == ("model.pkl",)
    assert "sklearn" in found.modules and "numpy" in found.modules
    assert found.dangerous == ()


def test_inspect_says_the_pickle_imports_sklearn_which_no_requirement_provides(sklearn_model: Path) -> None:
    notes = inspect(str(sklearn_model))["notes"]
    said = [n for n in notes if "imports sklearn, which no requirement provides" in n]
    version = (sklearn_model / "sklearn_version").read_text()
    assert said and f"`scikit-learn=={version}`" in said[0] and "--add-implied" in said[0]
    assert not any("imports numpy" in n for n in notes)  # numpy is a requirement


def test_add_implied_adds_the_distribution_at_the_logged_version_and_changes_the_key(sklearn_model: Path) -> None:
    version = (sklearn_model / "sklearn_version").read_text()
    plain = load_model(str(sklearn_model))
    added = load_model(str(sklearn_model), build=BuildOptions(add_implied=True))
    assert f"scikit-learn=={version}" in added.spec.requirements
    assert f"scikit-learn=={version}" not in plain.spec.requirements
    assert added.spec.key != plain.spec.key
    assert any("verified with added requirement(s)" in n for n in added.spec.notes)


def test_a_load_error_the_scan_predicted_names_the_distribution(sklearn_model: Path) -> None:
    spec = load_model(str(sklearn_model)).spec
    data = {"load": {"ok": False, "error": {"type": "ModuleNotFoundError", "message": "No module named 'sklearn'"}}}
    implied_checks.annotate(data, spec, sklearn_model)
    assert "scikit-learn" in data["load"]["error"]["hint"] and "--add-implied" in data["load"]["error"]["hint"]


def test_dangerous_globals_are_reported_not_run(sklearn_model: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(sklearn_model, model)
    (model / "extra.pkl").write_bytes(pickle.dumps(os.system))  # a reference to os.system; never called
    notes = inspect(str(model))["notes"]
    said = [n for n in notes if "callables no model needs" in n]
    assert said and ("os.system" in said[0] or "posix.system" in said[0])


def test_cloudpickle_subimport_names_the_module(tmp_path: Path) -> None:
    """cloudpickle pickles a module object as subimport('name'): that name is an import too."""
    script = (
        "import cloudpickle, json, sys\n"
        "import xml.dom as m\n"
        "open(sys.argv[1], 'wb').write(cloudpickle.dumps({'mod': m}))\n"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "python_model.pkl")], check=True)
    assert "xml" in scan(tmp_path).modules


def test_a_corpus_model_with_its_requirements_has_no_implied_gap(tmp_path: Path) -> None:
    source = CORPUS / "akhil-sklearn-mlf127"
    assert source.is_dir(), "the shared corpus is part of the test set-up"
    model = tmp_path / "model"
    shutil.copytree(source, model)
    found = scan(model)
    assert "sklearn" in found.modules
    notes = inspect(str(model))["notes"]
    assert not any("imports sklearn" in n for n in notes), json.dumps(notes)


def test_a_corpus_pyfunc_pickling_its_projects_own_module_is_named(tmp_path: Path) -> None:
    """The shared corpus's custom PythonModel pickles a class of the training project's `custom_transformers`."""
    model = tmp_path / "model"
    shutil.copytree(CORPUS / "ekorczak-pyfunc-mlf3", model)
    notes = inspect(str(model))["notes"]
    said = [n for n in notes if "imports custom_transformers" in n]
    assert said and "code_paths" in said[0] and "--add-implied" not in said[0]


def test_a_statsmodels_pickle_is_read(tmp_path: Path) -> None:
    model = tmp_path / "model"
    source = CORPUS / "vnb-statsmodels"
    shutil.copytree(source, model)
    assert "statsmodels" in scan(model).modules
