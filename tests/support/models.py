"""Real models, logged by real MLflow, for tests. Nothing here is mocked."""

from __future__ import annotations

import base64
import hashlib
import textwrap
import zipfile
from pathlib import Path

# A pyfunc model from code that multiplies column x by `factor` (SCALE.format(factor=3)): the registry tests' models.
SCALE = """
import mlflow
from mlflow.pyfunc import PythonModel


class Model(PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input["x"] * {factor}


mlflow.models.set_model(Model())
"""


def iris_frame():
    from sklearn.datasets import load_iris

    features, target = load_iris(return_X_y=True, as_frame=True)
    return features, target


def save_sklearn_model(path: Path) -> Path:
    """A scikit-learn iris classifier with a DataFrame input example, saved as a model directory."""
    import mlflow.sklearn
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    features, target = iris_frame()
    model = LogisticRegression(max_iter=300).fit(features, target)
    mlflow.sklearn.save_model(model, str(path), input_example=features.head(5))
    np.save(truth_path(path), model.predict(features.head(5)))  # the oracle: the test's own answer (tests/support/oracle.py)
    return path


def truth_path(model: Path) -> Path:
    """Where save_sklearn_model keeps what the model predicted at training time: beside the model, not in it."""
    return model.parent / f"{model.name}.truth.npy"


def pinned_requirements() -> list[str]:
    """The test environment's own versions of what a pyfunc model needs (no inference)."""
    import cloudpickle
    import mlflow
    import numpy
    import pandas

    return [f"mlflow=={mlflow.__version__}", f"pandas=={pandas.__version__}", f"numpy=={numpy.__version__}",
            f"cloudpickle=={cloudpickle.__version__}"]


def save_code_model(path: Path, code: str, *, code_paths: list[str] | None = None, example=None) -> Path:
    """A custom PythonModel written as a 'model from code' file (nothing pickled by reference)."""
    import mlflow.pyfunc
    import pandas as pd

    source = path.parent / f"{path.name}_model.py"
    source.write_text(textwrap.dedent(code))
    example = example if example is not None else pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    mlflow.pyfunc.save_model(str(path), python_model=str(source), code_paths=code_paths,
                             input_example=example, pip_requirements=pinned_requirements())
    return path


def make_wheel(directory: Path, name: str, version: str, module_source: str) -> Path:
    """Build a minimal, valid pure-Python wheel holding one module `name`."""
    directory.mkdir(parents=True, exist_ok=True)
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": module_source.encode(),
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: envforge-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record_lines = []
    for arcname, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record_lines.append(f"{arcname},sha256={digest},{len(data)}")
    record_lines.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = ("\n".join(record_lines) + "\n").encode()
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for arcname, data in files.items():
            archive.writestr(arcname, data)
    return wheel


def wrong_expectations(recorded: Path, dest: Path, row: int, change=lambda value: value + 1) -> tuple[object, object]:
    """A copy of a recorded model whose stored prediction for row `row` of its first example is changed (verify
    must fail on it); returns (what the model predicts there, what the expectations now say)."""
    import json
    import shutil

    shutil.copytree(recorded, dest)
    path = dest / "envforge-expectations.json"
    data = json.loads(path.read_text())
    values = data["examples"][0]["prediction"]["data"]
    before = values[row]
    values[row] = change(before)
    path.write_text(json.dumps(data))
    return before, values[row]


def record_digests_again(model: Path) -> None:
    """After a test replaced a recorded model's code (an attack, a misbehaving body), the model as it now is stands
    for the model as recorded: its artifact digests are recorded again, so verify's artifact gate (issue 29,
    commands/artifact_gate.py) lets it through to what the test checks (the sandbox, the limits, the diagnosis)."""
    import json

    from envforge.modeldir.digests import digest_dir
    from envforge.modeldir.expectations import FILENAME

    path = model / FILENAME
    document = json.loads(path.read_text())
    document["artifacts"] = digest_dir(model)
    path.write_text(json.dumps(document))
