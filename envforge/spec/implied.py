"""The distributions a model's pickles imply and its requirements do not name (issue 34).

The pickle says `xgboost`; which distribution provides that module, at which version, and whether a
requirement (or a package every such model installs anyway) already provides it. Modules of the
standard library are never implied; a module envforge does not know the distribution of (the
training project's own package, most often) is reported by name and never guessed into the env.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

# import name -> distribution, for the import names that differ from their distribution's, or that
# envforge may add (a module not here is never added: its distribution is not known).
DISTRIBUTIONS = {
    "sklearn": "scikit-learn", "xgboost": "xgboost", "lightgbm": "lightgbm", "catboost": "catboost",
    "keras": "keras", "tensorflow": "tensorflow", "tf_keras": "tf-keras", "torch": "torch",
    "statsmodels": "statsmodels", "prophet": "prophet", "fbprophet": "fbprophet", "sktime": "sktime",
    "numpy": "numpy", "pandas": "pandas", "scipy": "scipy", "joblib": "joblib", "cloudpickle": "cloudpickle",
    "cv2": "opencv-python", "PIL": "pillow", "yaml": "PyYAML", "skimage": "scikit-image", "imblearn": "imbalanced-learn",
    "category_encoders": "category-encoders", "pmdarima": "pmdarima", "transformers": "transformers",
    "sentence_transformers": "sentence-transformers", "onnx": "onnx", "onnxruntime": "onnxruntime",
    "mlflow": "mlflow", "dill": "dill", "shap": "shap", "optuna": "optuna", "feature_engine": "feature-engine",
    "lifelines": "lifelines", "gensim": "gensim", "nltk": "nltk", "spacy": "spacy", "pyspark": "pyspark",
    "threadpoolctl": "threadpoolctl", "dateutil": "python-dateutil", "pytz": "pytz",
}
# Distributions any of these install too (their own dependencies): numpy comes with scikit-learn.
_COMES_WITH = {
    "numpy": {"scikit-learn", "scipy", "pandas", "xgboost", "lightgbm", "catboost", "statsmodels", "tensorflow", "keras",
              "torch", "prophet", "sktime", "opencv-python", "scikit-image", "mlflow", "onnx", "onnxruntime", "pmdarima", "shap",
              "imbalanced-learn", "category-encoders", "transformers"},
    "scipy": {"scikit-learn", "xgboost", "lightgbm", "catboost", "statsmodels", "sktime", "pmdarima", "scikit-image", "imbalanced-learn",
              "mlflow", "shap", "category-encoders"},
    "pandas": {"mlflow", "statsmodels", "prophet", "sktime", "catboost", "pmdarima", "shap", "category-encoders"},
    "joblib": {"scikit-learn", "imbalanced-learn", "pmdarima"},
    "threadpoolctl": {"scikit-learn"},
    "cloudpickle": {"mlflow", "mlflow-skinny", "shap"},
    "scikit-learn": {"imbalanced-learn", "pmdarima", "sktime", "category-encoders", "shap"},
    "python-dateutil": {"pandas", "mlflow"}, "pytz": {"pandas"},
    "mlflow": {"mlflow-skinny"},
    "keras": {"tensorflow"},
}
# MLmodel flavor -> the key its configuration records the library's version under.
FLAVOR_VERSIONS = {
    "scikit-learn": ("sklearn", "sklearn_version"), "xgboost": ("xgboost", "xgb_version"), "lightgbm": ("lightgbm", "lgb_version"),
    "catboost": ("catboost", "cb_version"), "keras": ("keras", "keras_version"), "tensorflow": ("tensorflow", "tensorflow_version"),
    "torch": ("pytorch", "pytorch_version"), "statsmodels": ("statsmodels", "statsmodels_version"),
    "prophet": ("prophet", "prophet_version"), "onnx": ("onnx", "onnx_version"),
}
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._\-]*)")


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Implied:
    module: str
    distribution: str | None   # None: envforge does not know which distribution provides the module
    files: tuple[str, ...]     # the pickles that import it
    pin: str | None = None     # "xgboost==1.7.6" where MLmodel records the version, else None

    @property
    def requirement(self) -> str | None:
        return self.pin or self.distribution


def named(lines: tuple[str, ...] | list[str]) -> set[str]:
    """The normalized distribution names a set of requirement (or conda spec) lines installs."""
    out = set()
    for line in lines:
        line = line.split("::")[-1]
        if line.startswith("./"):  # a local wheel: its file name starts with the project name
            line = line.rsplit("/", 1)[-1].split("-", 1)[0]
        match = _NAME.match(line)
        if match:
            out.add(norm(re.split(r"[=<>!~ \[;]", match.group(1))[0]))
    return out


def provided(distribution: str, names: set[str], seen: frozenset[str] = frozenset()) -> bool:
    """A requirement names the distribution, or a distribution that installs it (one of _COMES_WITH's)."""
    wanted = norm(distribution)
    if wanted in names:
        return True
    givers = {norm(g) for key, found in _COMES_WITH.items() if norm(key) == wanted for g in found} - seen
    return any(provided(g, names, seen | {wanted}) for g in givers)


def missing(modules: dict[str, tuple[str, ...]], requirements: list[str], own_modules: set[str],
            flavors: dict[str, object]) -> list[Implied]:
    """The modules the pickles import that no requirement provides. `own_modules`: top-level names the
    model ships itself (code_paths), `flavors`: MLmodel's flavors (for the versions they record)."""
    names = named(requirements)
    stdlib = set(getattr(sys, "stdlib_module_names", ())) | {"__builtin__", "copy_reg", "__main__", "builtins"}
    out = []
    for module, files in modules.items():
        if module in stdlib or module.startswith("_") or module in own_modules:
            continue
        distribution = DISTRIBUTIONS.get(module)
        if distribution is None:
            if norm(module) not in names:
                out.append(Implied(module, None, files))
            continue
        if not provided(distribution, names):
            out.append(Implied(module, distribution, files, _pin(distribution, flavors)))
    return out


def _pin(distribution: str, flavors: dict[str, object]) -> str | None:
    flavor, key = FLAVOR_VERSIONS.get(distribution, (None, None))
    conf = flavors.get(flavor) if flavor else None
    version = conf.get(key) if isinstance(conf, dict) and key else None
    if isinstance(version, str) and re.fullmatch(r"[0-9][0-9A-Za-z.+!]*", version):
        return f"{distribution}=={version}"
    return None
