"""A model logged "on Databricks Runtime 15.4 LTS ML", built end to end with the runtime's library versions (issue 32).

MLflow writes `databricks_runtime` into MLmodel only when it runs on Databricks, so this test writes it by hand: a
real scikit-learn model is trained and saved by real MLflow in a training env holding what the 15.4 ML runtime ships
(Python 3.11, mlflow 2.19.0, scikit-learn 1.3.0, numpy 1.23.5, pandas 1.5.3 ...), then its MLmodel gets
`databricks_runtime: 15.4.x-cpu-ml-scala2.12` and its requirements.txt keeps only what the model imports
(mlflow, scikit-learn), as on Databricks, where the runtime supplied everything else. With the default
`--resolve logged` the rebuilt env must hold the runtime's versions of what requirements.txt leaves open, the report and
`inspect` must name the profile and what it pinned, and `--runtime-profile off` must give other versions (today's:
numpy 2.x, which scikit-learn 1.3.0 was not built for)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from envforge.backends.tools import uv_bin
from envforge.spec.runtime_profiles import load_profile
from tests.support.cli import envforge, report
from tests.support.loggers import machine_python

pytestmark = pytest.mark.slow

RUNTIME = "15.4.x-cpu-ml-scala2.12"
OPEN = ("numpy", "pandas", "scipy", "threadpoolctl", "joblib", "cloudpickle")  # left open by requirements.txt
VERSIONS = "import importlib.metadata as m, json, sys; print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"

TRAIN = """
import sys
import mlflow.sklearn
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

features, target = load_iris(return_X_y=True, as_frame=True)
model = LogisticRegression(max_iter=500).fit(features, target)
mlflow.sklearn.save_model(model, sys.argv[1], input_example=features.head(5))
"""


@pytest.fixture(scope="module")
def profile():
    table = load_profile(RUNTIME)
    assert table.python == "3.11" and all(name in table.packages for name in (*OPEN, "scikit-learn", "mlflow-skinny"))
    return table


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, profile) -> tuple[Path, Path]:
    """(the model, recorded in its training env; the envforge home every test of the module shares)."""
    base = tmp_path_factory.mktemp("dbr-runtime")
    interpreter = machine_python("3.11")
    assert interpreter is not None, "the 15.4 runtime's Python is 3.11: this machine must have a CPython 3.11"
    venv, uv = base / "train", uv_bin()
    subprocess.run([uv, "venv", "-q", str(venv), "--python", interpreter.path], check=True, timeout=300)
    shipped = [f"{name}=={profile.packages[name]}" for name in (*OPEN, "scikit-learn")]
    subprocess.run([uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"),
                    f"mlflow=={profile.packages['mlflow-skinny']}", *shipped], check=True, timeout=900)
    (base / "train.py").write_text(TRAIN)
    model = base / "model"
    subprocess.run([str(venv / "bin" / "python"), str(base / "train.py"), str(model)], check=True, capture_output=True, timeout=600)
    # As on Databricks: the runtime in MLmodel (written by hand here), and only what the model imports in the env files.
    (model / "MLmodel").write_text(f"databricks_runtime: {RUNTIME}\n" + (model / "MLmodel").read_text())
    kept = [line for line in (model / "requirements.txt").read_text().splitlines() if re.match(r"(mlflow|scikit-learn)==", line)]
    assert len(kept) == 2, kept
    (model / "requirements.txt").write_text("\n".join(kept) + "\n")
    conda = (model / "conda.yaml").read_text()
    (model / "conda.yaml").write_text(re.sub(rf"  - ({'|'.join(OPEN)})==.*\n", "", conda))
    home = base / "home"
    recorded = envforge("record", str(model), "--python", str(venv / "bin" / "python"), home=home)
    assert recorded.returncode == 0, recorded.output
    return model, home


def _installed(python: Path) -> dict[str, str]:
    done = subprocess.run([str(python), "-c", VERSIONS, *OPEN], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)


def test_verify_builds_the_runtimes_versions_and_says_so(workspace, profile, tmp_path: Path) -> None:
    model, home = workspace
    assert not any(re.match(rf"({'|'.join(OPEN)})\b", line) for line in (model / "requirements.txt").read_text().splitlines())
    run = envforge("verify", str(model), "--json", str(tmp_path / "r.json"), home=home)
    result = report(tmp_path / "r.json")
    assert run.returncode == 0 and result["status"] == "passed", run.output
    applied = result["env"]["runtime_profile"]
    assert applied["profile"] == RUNTIME and applied["runtime"] == RUNTIME, applied
    for name in OPEN:
        assert f"{name}=={profile.packages[name]}" in applied["pinned"], (name, applied["pinned"][:20])
    assert f"runtime profile {RUNTIME} applied" in run.output, run.output
    env_python = Path(result["env"]["path"]) / "bin" / "python"
    assert _installed(env_python) == {name: profile.packages[name] for name in OPEN}  # the runtime's, in the built env

    shown = envforge("inspect", str(model), home=home)
    assert shown.returncode == 0, shown.output
    assert f"'profile': '{RUNTIME}'" in shown.output and f"runtime profile {RUNTIME} applied" in shown.output, shown.output
    for name in OPEN:  # what the runtime provided that requirements.txt does not pin
        assert f"'{name}=={profile.packages[name]}'" in shown.output, name


def test_runtime_profile_off_builds_other_versions(workspace, profile) -> None:
    model, home = workspace
    run = envforge("run", "--runtime-profile", "off", str(model), "--", "python", "-c", VERSIONS, *OPEN, home=home)
    assert run.returncode == 0, run.output
    installed = json.loads(run.stdout.strip().splitlines()[-1])
    differ = [name for name in OPEN if installed[name] != profile.packages[name]]
    # resolved as of the logging day (today) without the runtime: newer numpy, pandas and scipy than 15.4 shipped
    assert {"numpy", "pandas", "scipy"} <= set(differ), installed
