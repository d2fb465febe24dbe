"""The runner's introspection (envforge/runner/introspect.py) on real models fitted and saved here.

These are the test's own models, so loading them in the test process is safe (never a corpus pickle).
The runner file is loaded as the runner itself loads it: by path, not as part of envforge.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from envforge.runner import files, script_path


def _module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RUNNER = _module("run_model_for_introspection", script_path())
INTROSPECT = RUNNER.helpers()
REQUEST = {"rows": 4, "seed": 7}


def _run(model):
    """What the runner does with an introspected example: ask, then decode the payload it made."""
    made = INTROSPECT.introspect(model, REQUEST)
    data, _ = RUNNER.decode_payload(made["payload"])
    return made, INTROSPECT.typed(data, made["dtypes"])


def test_the_runner_ships_its_helper() -> None:
    assert set(files()) == {"run_model.py", "introspect.py", "flavor_inputs.py", "warning_catch.py", "spark_stop.py"}
    assert all(p.is_file() for p in files().values())


def test_a_pipeline_fitted_on_a_frame_gives_its_column_names() -> None:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features, target = load_iris(return_X_y=True, as_frame=True)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=200)).fit(features, target)
    made, frame = _run(pipeline)
    assert list(frame.columns) == list(features.columns) and frame.shape == (4, 4) and all(frame.dtypes == "float64")
    assert "feature_names_in_" in made["detail"]
    assert len(pipeline.predict(frame)) == 4
    assert INTROSPECT.introspect(pipeline, REQUEST) == made  # deterministic


def test_a_model_fitted_on_a_matrix_gives_its_width() -> None:
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit(np.arange(12.0).reshape(4, 3), [1.0, 2.0, 3.0, 4.0])
    made, array = _run(model)
    assert array.shape == (4, 3) and "n_features_in_" in made["detail"]
    assert len(model.predict(array)) == 4


def test_the_native_model_is_unwrapped_from_a_pyfunc_model(tmp_path: Path) -> None:
    import mlflow.pyfunc
    import mlflow.sklearn
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit(np.arange(8.0).reshape(4, 2), [1.0, 2.0, 3.0, 4.0])
    mlflow.sklearn.save_model(model, str(tmp_path / "m"), pip_requirements=["scikit-learn"])
    loaded = mlflow.pyfunc.load_model(str(tmp_path / "m"))
    assert type(INTROSPECT.raw_model(loaded)).__name__ == "LinearRegression"
    _, array = _run(loaded)
    assert loaded.predict(array).shape == (4,)


def test_a_user_subclass_is_recognised_by_its_bases() -> None:
    """A model class defined by the user (as in __main__) is asked as the library its base comes from."""
    from sklearn.linear_model import LinearRegression

    class Mine(LinearRegression):
        pass

    Mine.__module__ = "__main__"
    model = Mine().fit(np.arange(10.0).reshape(5, 2), [1.0, 2.0, 3.0, 4.0, 5.0])
    made, array = _run(model)
    assert array.shape == (4, 2)


def test_nothing_knowable_says_which_class() -> None:
    class Opaque:
        def predict(self, data):
            return data

    with pytest.raises(INTROSPECT.Unknowable, match=r"the model is a .*Opaque, whose inputs envforge cannot ask"):
        INTROSPECT.introspect(Opaque(), REQUEST)


def test_an_unfitted_estimator_is_unknowable_not_a_crash() -> None:
    from sklearn.linear_model import LinearRegression

    with pytest.raises(INTROSPECT.Unknowable, match="neither feature_names_in_ nor n_features_in_"):
        INTROSPECT.introspect(LinearRegression(), REQUEST)


def test_a_forest_fitted_before_0_24_is_asked_its_n_features_() -> None:
    """An older scikit-learn recorded a tree's or forest's width as `n_features_` only."""
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(n_estimators=3, random_state=0).fit(np.arange(15.0).reshape(5, 3), [0, 1, 0, 1, 0])
    del model.n_features_in_  # as an 0.23 pickle has it: no n_features_in_ ...
    model.__dict__["n_features_"] = 3  # ... but n_features_
    made, array = _run(model)
    assert array.shape == (4, 3) and "n_features_ (an older scikit-learn)" in made["detail"]
