"""The virtualenv backend end to end: build_dependencies first, then requirements, then code_path wheels; a file
deleted from the built env is found on reuse and the env rebuilt (issue 29)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from envforge.store.env_check import damage
from tests.support.cli import envforge, report
from tests.support.env_damage import assert_rebuilt_for_a_missing_file
from tests.support.loggers import machine_python, missing
from tests.support.models import make_wheel, save_code_model
from tests.support.oracle import assert_same_as_truth

pytestmark = pytest.mark.slow

HELPER = "def triple(values):\n    return values * 3\n"
MODEL = """
    import mlflow.pyfunc
    class M(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            import ef_venv_helper
            return ef_venv_helper.triple(model_input["x"])
    mlflow.models.set_model(M())
"""
OLD_PIP = "24.0"  # not virtualenv's embedded pip: seen in the env only if build_dependencies were installed


def test_build_dependencies_requirements_and_code_wheels_with_the_envs_own_pip(tmp_path: Path, home: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "ef_venv_helper.py").write_text(HELPER)
    wheel = make_wheel(tmp_path / "dist", "ef_venv_helper", "0.1.0", HELPER)
    model = save_code_model(tmp_path / "model", MODEL, code_paths=[str(wheel)])
    python_env = model / "python_env.yaml"
    pinned = [line for line in python_env.read_text().splitlines() if line.startswith("- pip==")]
    assert len(pinned) == 1, python_env.read_text()
    python_env.write_text(python_env.read_text().replace(pinned[0], f"- pip=={OLD_PIP}"))

    recorded = envforge("record", str(model), home=home, env={"PYTHONPATH": str(source)})
    assert recorded.returncode == 0, recorded.output
    run = envforge("verify", str(model), "--backend", "virtualenv", "--json", str(tmp_path / "r.json"), home=home)
    assert run.returncode == 0, run.output
    result = report(tmp_path / "r.json")
    assert result["status"] == "passed" and result["backend"] == "virtualenv"
    # An oracle independent of the runner: the helper triples column x of the saved example, computed here.
    assert_same_as_truth(result, pd.DataFrame({"x": [1.0, 2.0, 3.0]})["x"] * 3)
    env = Path(result["env"]["path"])
    assert env.name.startswith("virtualenv-")
    assert list(env.glob("lib/python*/site-packages/ef_venv_helper.py")), "the code_path wheel was not installed"
    done = subprocess.run([str(env / "bin" / "python"), "-I", "-c",
                           "import json, importlib.metadata as m; print(json.dumps({d.metadata['Name'].lower(): d.version "
                           "for d in m.distributions()}))"], capture_output=True, text=True, timeout=120, check=True)
    versions = json.loads(done.stdout)
    assert versions["pip"] == OLD_PIP  # the logged build dependency replaced the seeded pip
    for line in python_env.read_text().splitlines():  # every pinned build dependency, as logged
        if line.startswith("- ") and "==" in line:
            name, version = line[2:].split("==")
            assert versions[name.lower()] == version, (name, versions.get(name.lower()))
    state = json.loads((env / ".envforge-state.json").read_text())
    assert f"pip=={OLD_PIP}" in state["installed"]  # the marker's record of what pip installed
    assert any(line.replace("-", "_").startswith("ef_venv_helper") for line in state["installed"])

    again = envforge("verify", str(model), "--backend", "virtualenv", "--json", str(tmp_path / "again.json"), home=home)
    assert again.returncode == 0, again.output
    assert report(tmp_path / "again.json")["env"]["reused"] is True

    # Issue 29: a file the build installed, deleted from the built env, is found on reuse (the installers' RECORD
    # files are the env's manifest): the env is rebuilt and the report says why, never "the model failed to load".
    [helper] = env.glob("lib/python*/site-packages/ef_venv_helper.py")
    helper.unlink()
    damaged = envforge("verify", str(model), "--backend", "virtualenv", "--json", str(tmp_path / "damaged.json"), home=home)
    assert_rebuilt_for_a_missing_file(damaged.returncode, report(tmp_path / "damaged.json"), damaged.output, env, helper,
                                      "ef_venv_helper.py")
    assert damage(env, check=True) is None  # the rebuild's manifest is right: the next verify reuses the env


def test_an_interpreter_too_old_for_virtualenv_is_named_with_a_remedy(sklearn_model: Path, home: Path, tmp_path: Path) -> None:
    """A CPython 3.6 is older than any virtualenv envforge accepts can create envs for: exit 3, said plainly."""
    old = machine_python("3.6")
    if old is None:
        pytest.skip(missing("3.6", uv_builds_it=False))
    python_env = sklearn_model / "python_env.yaml"
    python_env.write_text(re.sub(r"(?m)^python: .*$", f"python: {old.version}", python_env.read_text()))
    run = envforge("verify", str(sklearn_model), "--backend", "virtualenv", "--json", str(tmp_path / "r.json"), home=home)
    assert run.returncode == 3, run.output
    assert f"cannot create an environment for Python {old.version}" in run.output and "--backend uv" in run.output
    assert "Traceback" not in run.output and "SyntaxError" not in run.output
    assert report(tmp_path / "r.json")["error"]["kind"] == "EnvBuildError"
