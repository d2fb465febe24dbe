"""The gaps real models have, filled with a note (spec/fallbacks.py, spec/inferred.py), on copies of the
shared corpus (models real users logged) and on MLmodel files edited to be hostile."""

from __future__ import annotations

from pathlib import Path

import pytest

from envforge.errors import ModelDirError
from envforge.spec import load_spec
from tests.support.corpus import CORPUS, corpus_copy
from tests.support.corpus import MISSING as CORPUS_MISSING

ENV_FILES = ("python_env.yaml", "conda.yaml", "requirements.txt")
# What MLmodel alone says each corpus model needs: mlflow_version, then each flavor's recorded library.
INFERRED = {
    "akhil-sklearn-mlf127": ("mlflow==1.27.0", "scikit-learn==1.0.2", "cloudpickle"),
    "aryan-sklearn-serving": ("mlflow==2.22.0", "scikit-learn==1.6.1", "cloudpickle"),
    "boisalai-xgboost": ("mlflow==2.5.0", "xgboost==1.7.6"),
    "ekorczak-pyfunc-mlf3": ("mlflow==3.9.0", "cloudpickle==3.1.0"),
    "hakymulla-lightgbm": ("mlflow==1.27.0", "lightgbm==3.3.2"),
    "talha-sklearn-condaonly": ("mlflow", "scikit-learn==0.23.2", "cloudpickle"),
    "tsazure-pytorch": ("mlflow==2.1.1", "torch==1.13.1", "cloudpickle"),
    "vnb-statsmodels": ("mlflow==2.12.2", "statsmodels==0.14.0"),
}
PYTHONS = {"akhil-sklearn-mlf127": "3.9.12", "aryan-sklearn-serving": "3.12.9", "boisalai-xgboost": "3.9.17",
           "ekorczak-pyfunc-mlf3": "3.12.1", "hakymulla-lightgbm": "3.9.12", "talha-sklearn-condaonly": "3.9.4",
           "tsazure-pytorch": "3.8.15", "vnb-statsmodels": "3.11.8"}

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=CORPUS_MISSING)


def _strip(model: Path, *names: str) -> Path:
    for name in names:
        (model / name).unlink(missing_ok=True)
    return model


def test_missing_requirements_file_is_filled_from_conda_pip_section(tmp_path: Path) -> None:
    intact = load_spec(corpus_copy("boisalai-xgboost", tmp_path / "a"))
    spec = load_spec(_strip(corpus_copy("boisalai-xgboost", tmp_path / "b"), "requirements.txt"))
    assert spec.requirements == intact.requirements  # MLflow wrote the same list to both files
    assert spec.python == "3.9.17" and spec.python_source == "python_env.yaml"
    assert spec.build_dependencies == ("pip==23.1.2", "setuptools", "wheel==0.38.4")
    assert spec.gaps == ("python_env.yaml names requirements.txt, which is not in the model directory: envforge installs "
                         "conda.yaml's pip section instead (mlflow==2.5.0, numpy==1.25.1, pandas==2.0.3, psutil==5.9.5, "
                         "scikit-learn==1.3.0, scipy==1.11.1, typing-extensions==4.7.1, xgboost==1.7.6), "
                         "the list MLflow writes to both files",)
    assert spec.gaps[0] in spec.notes  # notes are what verify copies into the report's warnings
    assert not intact.gaps


def test_conda_pip_section_can_differ_and_is_what_is_installed(tmp_path: Path) -> None:
    """tsazure's conda.yaml lists more pip packages than its requirements.txt: the note names them."""
    spec = load_spec(_strip(corpus_copy("tsazure-pytorch", tmp_path), "requirements.txt"))
    assert "azureml-mlflow==1.42.0" in spec.requirements and "azureml-mlflow==1.42.0" in spec.gaps[0]


def test_missing_requirements_file_and_no_conda_yaml_infers_from_mlmodel(tmp_path: Path) -> None:
    spec = load_spec(_strip(corpus_copy("boisalai-xgboost", tmp_path), "requirements.txt", "conda.yaml"))
    assert spec.requirements == ("mlflow==2.5.0", "xgboost==1.7.6")
    assert spec.build_dependencies == ("pip==23.1.2", "setuptools", "wheel==0.38.4")  # python_env.yaml still says these
    assert "no conda.yaml pip section can take its place: envforge infers the requirements from MLmodel" in spec.gaps[0]


@pytest.mark.parametrize("name", sorted(INFERRED))
def test_no_env_file_at_all_infers_requirements_from_mlmodel(tmp_path: Path, name: str) -> None:
    spec = load_spec(_strip(corpus_copy(name, tmp_path), *ENV_FILES))
    assert spec.requirements == INFERRED[name]
    assert (spec.python, spec.python_source) == (PYTHONS[name], "MLmodel")
    assert spec.build_dependencies == ("pip", "setuptools", "wheel") and spec.conda_dependencies == ()
    head = spec.gaps[0]
    assert head.startswith("the model directory has no python_env.yaml, conda.yaml or requirements.txt: "
                           "envforge infers the requirements from MLmodel: ")
    assert f"Python {PYTHONS[name]} (python_function.python_version)" in head
    assert all(line in head for line in INFERRED[name])


def test_boisalai_inferred_lines_name_their_source(tmp_path: Path) -> None:
    spec = load_spec(_strip(corpus_copy("boisalai-xgboost", tmp_path), *ENV_FILES))
    assert "mlflow==2.5.0 (mlflow_version), xgboost==1.7.6 (the xgboost flavor's xgb_version), " in spec.gaps[0]
    assert load_spec(tmp_path / "boisalai-xgboost", "conda").requirements == spec.requirements  # the same for conda


def test_no_mlflow_version_leaves_mlflow_unpinned_and_names_the_logged_date(tmp_path: Path) -> None:
    """talha's MLmodel has no mlflow_version (MLflow 1.x era): envforge does not guess a release; it says
    which date an as-of resolution uses (utc_time_created)."""
    model = corpus_copy("talha-sklearn-condaonly", tmp_path)
    spec = load_spec(model)
    assert spec.requirements == ("mlflow", "scikit-learn==0.23.2", "cloudpickle==1.6.0")  # its conda.yaml's pip section
    date_note = [g for g in spec.gaps if "mlflow_version" in g]
    assert date_note == ["MLmodel records no mlflow_version (old MLflow releases did not write it), so nothing pins mlflow; "
                         "the model was logged on 2021-09-22 (utc_time_created): envforge leaves `mlflow` unpinned, so a "
                         "resolution as of that date (`--resolve logged`) installs the MLflow release current then, and "
                         "today's resolution installs today's"]
    inferred = load_spec(_strip(model, "conda.yaml"))
    assert inferred.requirements == ("mlflow", "scikit-learn==0.23.2", "cloudpickle")
    assert date_note[0] in inferred.gaps


def test_no_mlflow_version_and_no_date_says_today(tmp_path: Path) -> None:
    model = corpus_copy("talha-sklearn-condaonly", tmp_path)
    text = (model / "MLmodel").read_text()
    (model / "MLmodel").write_text(text.replace("utc_time_created: '2021-09-22 09:08:17.988059'", "utc_time_created: soon"))
    assert any("its utc_time_created ('soon') is not a date: `mlflow` is unpinned and resolves to today's release" in g
               for g in load_spec(model).gaps)
    (model / "MLmodel").write_text(text.replace("utc_time_created: '2021-09-22 09:08:17.988059'\n", ""))
    assert any("no utc_time_created either" in g for g in load_spec(model).gaps)


def test_a_pinned_mlflow_needs_no_date(tmp_path: Path) -> None:
    model = corpus_copy("talha-sklearn-condaonly", tmp_path)
    (model / "conda.yaml").write_text((model / "conda.yaml").read_text().replace("  - mlflow\n", "  - mlflow==1.20.2\n"))
    assert load_spec(model).gaps == ()


def test_conda_backend_without_conda_yaml_builds_from_python_env(tmp_path: Path) -> None:
    spec = load_spec(_strip(corpus_copy("vnb-statsmodels", tmp_path), "conda.yaml"), "conda")
    assert spec.requirements == ("mlflow==2.12.2", "statsmodels==0.14.0") and spec.python == "3.11.8"
    assert spec.conda_dependencies == () and spec.conda_channels == ()
    assert spec.gaps == ("MLmodel names conda.yaml, which is not in the model directory: envforge builds from "
                         "python_env.yaml instead (Python from conda, the requirements with pip)",)
    assert load_spec(tmp_path / "vnb-statsmodels", "uv").gaps == ()  # the uv backend never needed it


@pytest.mark.parametrize("backend", ["uv", "conda"])
def test_unreadable_conda_yaml_is_set_aside_beside_python_env(tmp_path: Path, backend: str) -> None:
    model = corpus_copy("vnb-statsmodels", tmp_path)
    (model / "conda.yaml").write_text("- not\n- a mapping\n")
    spec = load_spec(model, backend)
    assert spec.requirements == ("mlflow==2.12.2", "statsmodels==0.14.0") and spec.python_source == "python_env.yaml"
    assert len(spec.gaps) == 1 and "conda.yaml" in spec.gaps[0] and "is a YAML list, not a mapping" in spec.gaps[0]
    assert ("the conda backend builds from python_env.yaml instead" if backend == "conda"
            else "envforge builds from python_env.yaml, which does not need it") in spec.gaps[0]


def test_unreadable_conda_yaml_beside_requirements_txt(tmp_path: Path) -> None:
    model = _strip(corpus_copy("vnb-statsmodels", tmp_path), "python_env.yaml")
    (model / "conda.yaml").write_text("dependencies: [unclosed\n")
    spec = load_spec(model)
    assert spec.requirements == ("mlflow==2.12.2", "statsmodels==0.14.0")
    assert (spec.python, spec.python_source, spec.build_dependencies) == ("3.11.8", "MLmodel", ())
    assert "not valid YAML" in spec.gaps[0] and "envforge builds from requirements.txt instead" in spec.gaps[0]
    assert spec.gaps[1] == ("MLmodel names python_env.yaml, which is not in the model directory: "
                            "envforge builds from requirements.txt instead")


def test_an_unreadable_only_env_file_is_still_an_error(tmp_path: Path) -> None:
    """Nothing can stand in for it, and inferring from MLmodel would ignore what the model says."""
    model = _strip(corpus_copy("talha-sklearn-condaonly", tmp_path), "requirements.txt")
    (model / "conda.yaml").write_text("- x\n")
    with pytest.raises(ModelDirError, match="not a mapping"):
        load_spec(model)


def test_a_broken_python_env_yaml_is_still_an_error(tmp_path: Path) -> None:
    """MLflow itself builds from python_env.yaml when it exists: a broken one is not a gap to fill (exit 2)."""
    model = corpus_copy("vnb-statsmodels", tmp_path)
    (model / "python_env.yaml").write_text("python: [3.11\n")
    with pytest.raises(ModelDirError, match="not valid YAML"):
        load_spec(model)
    assert load_spec(model, "conda").python_source == "conda.yaml"  # the conda backend does not read it


def test_python_env_naming_a_file_outside_is_refused_not_filled(tmp_path: Path) -> None:
    model = corpus_copy("vnb-statsmodels", tmp_path)
    (model / "python_env.yaml").write_text("python: 3.11.8\ndependencies:\n- -r ../../elsewhere.txt\n")
    with pytest.raises(ModelDirError, match="outside the model directory"):
        load_spec(model)


def _flavor_version(tmp_path: Path, key: str, value: str, name: str = "vnb-statsmodels") -> Path:
    model = _strip(corpus_copy(name, tmp_path), *ENV_FILES)
    text = (model / "MLmodel").read_text()
    old = {"statsmodels_version": "0.14.0", "mlflow_version": "2.12.2", "pytorch_version": "1.13.1"}[key]
    (model / "MLmodel").write_text(text.replace(f"{key}: {old}", f"{key}: {value}"))
    return model


def test_a_hostile_flavor_version_never_becomes_a_requirement_line(tmp_path: Path) -> None:
    spec = load_spec(_flavor_version(tmp_path, "statsmodels_version", "'0.14; rm -rf / --index-url http://evil'"))
    assert spec.requirements == ("mlflow==2.12.2", "statsmodels") and spec.index_options == ()
    assert any("statsmodels flavor's statsmodels_version" in g and "is not a version; statsmodels is left unpinned" in g
               for g in spec.gaps)


def test_local_version_labels_are_dropped_as_mlflow_does(tmp_path: Path) -> None:
    spec = load_spec(_flavor_version(tmp_path, "pytorch_version", "1.13.1+cu117", "tsazure-pytorch"))
    assert spec.requirements == ("mlflow==2.1.1", "torch==1.13.1", "cloudpickle")
    assert any("1.13.1+cu117" in g and "without the local label" in g for g in spec.gaps)


def test_a_development_mlflow_is_left_unpinned(tmp_path: Path) -> None:
    spec = load_spec(_flavor_version(tmp_path, "mlflow_version", "2.13.0.dev0"))
    assert spec.requirements == ("mlflow", "statsmodels==0.14.0")
    assert any("development build (2.13.0.dev0)" in g for g in spec.gaps)


def test_inferred_specs_have_stable_distinct_keys(tmp_path: Path) -> None:
    with_files = load_spec(corpus_copy("vnb-statsmodels", tmp_path / "a"))
    inferred = load_spec(_strip(corpus_copy("vnb-statsmodels", tmp_path / "b"), *ENV_FILES))
    assert inferred.key == load_spec(tmp_path / "b" / "vnb-statsmodels").key
    assert inferred.key != with_files.key  # unpinned build dependencies: another environment


def test_python_env_without_dependencies_is_filled_too(tmp_path: Path) -> None:
    model = _strip(corpus_copy("vnb-statsmodels", tmp_path), "requirements.txt")
    (model / "python_env.yaml").write_text("python: 3.11.8\nbuild_dependencies: [pip==23.3.1]\ndependencies: []\n")
    spec = load_spec(model)
    assert spec.requirements == ("mlflow==2.12.2", "statsmodels==0.14.0") and spec.build_dependencies == ("pip==23.3.1",)
    assert spec.gaps[0].startswith("python_env.yaml lists no dependencies and there is no requirements.txt: "
                                   "envforge installs conda.yaml's pip section instead")


def test_a_conda_pin_of_mlflow_needs_no_date(tmp_path: Path) -> None:
    model = corpus_copy("talha-sklearn-condaonly", tmp_path)
    conda = (model / "conda.yaml").read_text().replace("- pip\n", "- pip\n- conda-forge::mlflow=1.20.2\n")
    (model / "conda.yaml").write_text(conda.replace("  - mlflow\n", ""))
    assert load_spec(model, "conda").gaps == ()


MLMODEL_FLAVORS = {
    "catboost": ("  catboost:\n    catboost_version: 1.2.5\n", ("catboost==1.2.5",)),
    "onnx": ("  onnx:\n    onnx_version: 1.16.0\n", ("onnx==1.16.0", "onnxruntime")),
    "tensorflow-keras": ("  tensorflow:\n    model_type: keras\n    keras_version: 2.15.0\n", ("tensorflow==2.15.0",)),
    "tensorflow-module": ("  tensorflow:\n    model_type: tf2-module\n", ("tensorflow",)),
    "keras3": ("  keras:\n    keras_version: 3.3.3\n    keras_backend: jax\n", ("keras==3.3.3", "jax")),
    "keras-1x-tf": ("  keras:\n    keras_module: tensorflow.keras\n    keras_version: 2.4.0\n", ("tensorflow",)),
    "unknown-flavor": ("  my_flavor:\n    my_version: 1.0\n", ()),
}


@pytest.mark.parametrize("case", sorted(MLMODEL_FLAVORS))
def test_flavor_keys_mlflow_writes(tmp_path: Path, case: str) -> None:
    section, expected = MLMODEL_FLAVORS[case]
    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text("flavors:\n  python_function:\n    loader_module: mlflow.x\n    python_version: 3.11.7\n"
                                   f"{section}mlflow_version: 2.14.1\n")
    assert load_spec(model).requirements == ("mlflow==2.14.1", *expected)


def test_a_token_in_the_conda_pip_section_stays_out_of_the_gap_note(tmp_path: Path) -> None:
    model = _strip(corpus_copy("vnb-statsmodels", tmp_path), "requirements.txt")
    conda = (model / "conda.yaml").read_text()
    (model / "conda.yaml").write_text(conda.replace("  - mlflow==2.12.2\n",
                                                    "  - --extra-index-url https://user:tk-secret-42@pkgs.example/simple\n  - mlflow==2.12.2\n"))
    spec = load_spec(model)
    assert spec.index_options == ("--extra-index-url", "https://user:tk-secret-42@pkgs.example/simple")  # passed on as written
    assert "conda.yaml's pip section instead" in spec.gaps[0] and "tk-secret-42" not in " ".join(spec.gaps)
