"""Real models for the conda backend's tests: logged by MLflow with a conda.yaml naming a local channel."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.support.models import pinned_requirements

GREETING = "hello from ef-hello 1.0.0"  # what the channel's ef-hello prints (conda_recipes/ef-hello)

# predict runs `ef-hello`, an executable only the conda package ef-hello provides: found on PATH
# inside the rebuilt conda env, as `conda run` would find it.
MODEL = """
    import subprocess
    import mlflow.pyfunc

    class Greeter(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            greeting = subprocess.run(["ef-hello"], capture_output=True, text=True, check=True).stdout.strip()
            return [f"{greeting}: {x}" for x in model_input["x"]]

    mlflow.models.set_model(Greeter())
"""


def conda_env(channels: list[str], conda_deps: list[str] | None = None) -> dict:
    """MLflow's conda.yaml shape; by default python pinned to the version the test channel (channels[0]) packaged."""
    from tests.support.conda_channel import packaged

    deps = conda_deps if conda_deps is not None else [f"python={packaged(channels[0])['python']}", "pip", "ef-hello=1.0.0"]
    return {"name": "envforge-test", "channels": channels, "dependencies": [*deps, {"pip": pinned_requirements()}]}


def save_conda_model(path: Path, channels: list[str], conda_deps: list[str] | None = None) -> Path:
    """A pyfunc model (from code) whose conda.yaml names `channels` and needs the conda package ef-hello."""
    import mlflow.pyfunc
    import pandas as pd

    source = path.parent / f"{path.name}_model.py"
    source.write_text(textwrap.dedent(MODEL))
    mlflow.pyfunc.save_model(str(path), python_model=str(source), conda_env=conda_env(channels, conda_deps),
                             input_example=pd.DataFrame({"x": [1.0, 2.0, 3.0]}))
    return path


def fake_ef_hello(directory: Path) -> Path:
    """The training environment's ef-hello (for `envforge record`, which runs in the current env): same output."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "ef-hello"
    script.write_text(f"#!/bin/sh\necho \"{GREETING}\"\n")
    script.chmod(0o755)
    return directory
