"""Requirements read off MLmodel, for a model directory whose env files are gone.

MLflow records, in each flavor's section of MLmodel, the version of the library that saved the
model (`sklearn_version`, `xgb_version`, ...), and at the top `mlflow_version`; python_function
records the Python version. Those are the pins MLflow itself writes first into requirements.txt
(its flavors' `get_default_pip_requirements`), so they are the honest minimum when that file was
never saved. The keys below are the ones MLflow's flavors write (read in mlflow/<flavor>/__init__.py).
Everything here is derived from untrusted text: each version is checked to be a version before it
becomes a requirement line, and anything that is not is left unpinned, with a note saying so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envforge.spec.paths import inside
from envforge.spec.yamlfile import read_mapping


@dataclass(frozen=True)
class Library:
    version_key: str
    package: str
    companions: tuple[str, ...] = ()  # installed unpinned: MLflow's default requirements for the flavor name them too


# flavor name in MLmodel -> the library its version key names (mlflow/<flavor>/__init__.py, `add_flavor(...)`).
LIBRARIES: dict[str, Library] = {
    "sklearn": Library("sklearn_version", "scikit-learn"),
    "xgboost": Library("xgb_version", "xgboost"),
    "lightgbm": Library("lgb_version", "lightgbm"),
    "catboost": Library("catboost_version", "catboost"),
    "statsmodels": Library("statsmodels_version", "statsmodels"),
    "pytorch": Library("pytorch_version", "torch", ("cloudpickle",)),
    "onnx": Library("onnx_version", "onnx", ("onnxruntime",)),
    "h2o": Library("h2o_version", "h2o"),
    "spacy": Library("spacy_version", "spacy"),
    "prophet": Library("prophet_version", "prophet"),
    "pmdarima": Library("pmdarima_version", "pmdarima"),
    "paddle": Library("paddle_version", "paddlepaddle"),
    "spark": Library("pyspark_version", "pyspark"),
    "shap": Library("shap_version", "shap"),
    "transformers": Library("transformers_version", "transformers"),
    "sentence_transformers": Library("sentence_transformers_version", "sentence-transformers"),
    "langchain": Library("langchain_version", "langchain"),
    "openai": Library("openai_version", "openai"),
    "llama_index": Library("llama_index_version", "llama-index"),
    "keras": Library("keras_version", "keras"),
    # MLflow >= 2.11 writes tf.__version__ under `keras_version` when it saved a Keras model (model_type: keras).
    "tensorflow": Library("keras_version", "tensorflow"),
    # a PythonModel is a cloudpickle pickle: MLflow records the cloudpickle that wrote it.
    "python_function": Library("cloudpickle_version", "cloudpickle"),
}
_KERAS_BACKENDS = {"tensorflow": "tensorflow", "torch": "torch", "jax": "jax"}
# What MLflow writes as python_env.yaml's build_dependencies (pinned there to the logging env's versions,
# which MLmodel does not record): old MLflow imports pkg_resources, which only setuptools provides.
BUILD_DEPENDENCIES = ("pip", "setuptools", "wheel")


@dataclass
class Inferred:
    requirements: list[str]
    sources: list[str]  # "xgboost==1.7.6 (xgboost flavor's xgb_version)", for the note
    notes: list[str]


def raw_mlmodel(model_dir: Path) -> dict[str, Any]:
    """MLmodel as a mapping (read_mlmodel keeps only what every model has; the flavor keys live here)."""
    return read_mapping(inside(model_dir, "MLmodel", "MLmodel"), "MLmodel")


def infer_requirements(model_dir: Path) -> Inferred:
    """mlflow==<mlflow_version>, then each flavor's library (pinned when MLmodel records its version)."""
    data = raw_mlmodel(model_dir)
    out = Inferred([], [], [])
    recorded = data.get("mlflow_version")
    _add(out, _pin("mlflow", recorded, "mlflow_version", out), "mlflow_version" if recorded is not None else "no mlflow_version")
    flavors = data.get("flavors") if isinstance(data.get("flavors"), dict) else {}
    for flavor, conf in flavors.items():
        conf = conf if isinstance(conf, dict) else {}
        library = LIBRARIES.get(str(flavor))
        if library is None or (flavor == "python_function" and library.version_key not in conf):
            continue
        where = f"the {flavor} flavor's {library.version_key}"
        version = conf.get(library.version_key)
        if flavor == "tensorflow" and conf.get("model_type") != "keras":
            version = None  # only a Keras model's section records TensorFlow's version
        if flavor == "keras" and str(conf.get("keras_module", "keras")) != "keras":
            _add(out, "tensorflow", "the keras flavor's keras_module (tensorflow.keras; its keras_version is not TensorFlow's)")
            continue
        _add(out, _pin(library.package, version, where, out), where if version is not None else f"the {flavor} flavor")
        for companion in library.companions:
            _add(out, companion, f"MLflow's default requirements for {flavor}")
        if flavor == "sklearn" and conf.get("serialization_format", "cloudpickle") == "cloudpickle":
            _add(out, "cloudpickle", "the sklearn flavor's serialization_format")
        backend = _KERAS_BACKENDS.get(str(conf.get("keras_backend"))) if flavor == "keras" else None
        if backend:
            _add(out, backend, "the keras flavor's keras_backend")
    return out


def logged_date(model_dir: Path) -> tuple[str | None, str | None]:
    """(YYYY-MM-DD of utc_time_created, or None; a problem with the field, or None)."""
    raw = raw_mlmodel(model_dir).get("utc_time_created")
    if raw is None:
        return None, None
    try:
        when = dt.datetime.fromisoformat(str(raw).strip().replace("Z", "+00:00"))
    except ValueError:
        return None, f"its utc_time_created ({str(raw)[:40]!r}) is not a date"
    return when.date().isoformat(), None


def mlflow_date_note(model_dir: Path) -> str:
    """For a model whose MLmodel has no mlflow_version and whose requirements leave mlflow unpinned."""
    date, problem = logged_date(model_dir)
    head = "MLmodel records no mlflow_version (old MLflow releases did not write it), so nothing pins mlflow"
    if date:
        return (f"{head}; the model was logged on {date} (utc_time_created): envforge leaves `mlflow` unpinned, so a "
                f"resolution as of that date (`--resolve logged`) installs the MLflow release current then, and "
                "today's resolution installs today's")
    reason = problem or "it has no utc_time_created either"
    return f"{head}, and {reason}: `mlflow` is unpinned and resolves to today's release"


def _pin(package: str, value: Any, where: str, out: Inferred) -> str:
    """`package==value` when value is a release version; else unpinned, with a note (never a bad line)."""
    from packaging.version import InvalidVersion, Version

    if value is None:
        return package
    text = str(value).strip()
    try:
        version = Version(text)
    except InvalidVersion:
        out.notes.append(f"MLmodel's {where} ({text[:40]!r}) is not a version; {package} is left unpinned")
        return package
    if version.local:  # e.g. torch 1.13.1+cu117: MLflow itself drops the local label, PyPI has no such file
        out.notes.append(f"MLmodel's {where} is {text}; envforge pins {package}=={version.public} (without the local label, as MLflow does)")
    if version.is_devrelease:
        out.notes.append(f"MLmodel's {where} is a development build ({text}), not a release; {package} is left unpinned")
        return package
    return f"{package}=={version.public}"


def _add(out: Inferred, line: str, source: str) -> None:
    name = line.split("==")[0]
    if any(r.split("==")[0] == name for r in out.requirements):
        return
    out.requirements.append(line)
    out.sources.append(f"{line} ({source})")
