"""Real models logged without an input example, for the synthesized-input tests. Nothing mocked."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.support.models import iris_frame, pinned_requirements


def _sklearn_requirements() -> list[str]:
    import sklearn

    return [*pinned_requirements(), f"scikit-learn=={sklearn.__version__}"]


def save_iris_with_signature(path: Path) -> Path:
    """An iris classifier with a column signature (four doubles) and no input example."""
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    features, target = iris_frame()
    model = LogisticRegression(max_iter=300).fit(features, target)
    mlflow.sklearn.save_model(model, str(path), signature=infer_signature(features, target),
                              pip_requirements=_sklearn_requirements())
    return path


def save_iris_bare(path: Path) -> Path:
    """An iris regressor with neither signature nor example: only the fitted model knows its columns."""
    import mlflow.sklearn
    from sklearn.linear_model import LinearRegression

    features, target = iris_frame()
    model = LinearRegression().fit(features, target.astype(float))
    mlflow.sklearn.save_model(model, str(path), pip_requirements=_sklearn_requirements())
    return path


def save_tensor_model(path: Path) -> Path:
    """A pyfunc model from code with a float32 (-1, 3) tensor signature and no input example."""
    import mlflow.pyfunc
    import numpy as np
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import Schema, TensorSpec

    source = path.parent / f"{path.name}_model.py"
    source.write_text(textwrap.dedent("""
        import mlflow.pyfunc, numpy as np
        class M(mlflow.pyfunc.PythonModel):
            def predict(self, context, model_input, params=None):
                assert model_input.dtype == np.float32 and model_input.shape[1:] == (3,), (model_input.dtype, model_input.shape)
                return model_input.sum(axis=1) * 2
        mlflow.models.set_model(M())
    """))
    signature = ModelSignature(inputs=Schema([TensorSpec(np.dtype("float32"), (-1, 3))]),
                               outputs=Schema([TensorSpec(np.dtype("float32"), (-1,))]))
    mlflow.pyfunc.save_model(str(path), python_model=str(source), signature=signature, pip_requirements=pinned_requirements())
    return path


def save_opaque_model(path: Path) -> Path:
    """A custom pyfunc model without signature or example: nothing says what it takes."""
    import mlflow.pyfunc

    source = path.parent / f"{path.name}_model.py"
    source.write_text(textwrap.dedent("""
        import mlflow.pyfunc
        class Opaque(mlflow.pyfunc.PythonModel):
            def predict(self, context, model_input, params=None):
                return model_input
        mlflow.models.set_model(Opaque())
    """))
    mlflow.pyfunc.save_model(str(path), python_model=str(source), pip_requirements=pinned_requirements())
    return path


def save_picky_model(path: Path) -> Path:
    """A pyfunc model with a string-column signature that raises on any value it was not built for,
    as a model with a fixed vocabulary would on a synthesized input."""
    import mlflow.pyfunc
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    source = path.parent / f"{path.name}_model.py"
    source.write_text(textwrap.dedent("""
        import mlflow.pyfunc
        class Picky(mlflow.pyfunc.PythonModel):
            def predict(self, context, model_input, params=None):
                unknown = sorted(set(model_input["color"]) - {"red", "green"})
                if unknown:
                    raise ValueError("unknown color(s): " + ", ".join(unknown))
                return model_input["color"].str.len()
        mlflow.models.set_model(Picky())
    """))
    signature = ModelSignature(inputs=Schema([ColSpec("string", "color")]))
    mlflow.pyfunc.save_model(str(path), python_model=str(source), signature=signature, pip_requirements=pinned_requirements())
    return path
