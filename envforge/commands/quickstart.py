"""`envforge quickstart`: the whole job on an embedded default, on a fresh machine.

Trains a tiny scikit-learn model, logs and registers it in a local MLflow store (SQLite under
a local folder), records its predictions, then verifies it with the uv backend.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from envforge.errors import UsageError

EXPERIMENT = "envforge-quickstart"
MODEL_NAME = "envforge-quickstart-iris"


@dataclass(frozen=True)
class QuickstartModel:
    tracking_uri: str
    model_uri: str


def log_quickstart_model(folder: Path) -> QuickstartModel:
    """Train and register the iris model in a SQLite store under `folder`."""
    try:
        import mlflow
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression
    except ImportError as exc:
        raise UsageError(f"quickstart trains a model, which needs {exc.name} in this Python environment.",
                         "Install the extra: pip install 'envforge-mlflow[quickstart]'.") from None
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    tracking_uri = f"sqlite:///{folder / 'mlflow.db'}"
    warnings.filterwarnings("ignore")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)
    mlflow.set_tracking_uri(tracking_uri)
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        mlflow.create_experiment(EXPERIMENT, artifact_location=(folder / "artifacts").as_uri())
    mlflow.set_experiment(EXPERIMENT)
    features, target = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=300).fit(features, target)
    with mlflow.start_run(), _mlflow_says_nothing():
        info = mlflow.sklearn.log_model(model, name="model", input_example=features.head(5),
                                        registered_model_name=MODEL_NAME, pip_requirements=model_requirements())
    version = info.registered_model_version
    return QuickstartModel(tracking_uri=tracking_uri, model_uri=f"models:/{MODEL_NAME}/{version}")


# What the iris model needs to load and predict, at this environment's versions. Given explicitly: MLflow's inference
# of requirements captures what the logging process has imported, which here is envforge itself (rich, filelock, …),
# and it runs a subprocess that loads the model (seconds of a quickstart). mlflow itself is added by MLflow.
MODEL_PACKAGES = ("scikit-learn", "numpy", "scipy", "pandas", "cloudpickle")


def model_requirements() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    pins = []
    for name in MODEL_PACKAGES:
        try:
            pins.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            continue  # not installed here (cloudpickle): the model does not need it
    return pins


@contextlib.contextmanager
def _mlflow_says_nothing() -> Iterator[None]:
    """MLflow prints "Successfully registered model ..." and "Created version ..." itself; envforge prints what
    happened in its own words. What MLflow said is shown only if logging fails."""
    said = io.StringIO()
    try:
        with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
            yield
    except BaseException:
        sys.stderr.write(said.getvalue())
        raise
