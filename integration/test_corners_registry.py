"""verify-registry's selections and backends that no other test drove: --latest N, --uris-file and
--backend virtualenv, against a real `mlflow server` of this module's own (models named corners-reg-*)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from tests.support.cli import envforge
from tests.support.models import SCALE
from tests.support.oracle import assert_same_as_truth

pytestmark = pytest.mark.slow

CODE = SCALE  # x * {factor}
EXAMPLE = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
# name -> the factor of each of its versions, in registration order (one environment for all: the same pins)
MODELS = {"corners-reg-a": [2, 3, 4], "corners-reg-b": [5]}
FACTORS = {f"models:/{name}/{i + 1}": factor for name, factors in MODELS.items() for i, factor in enumerate(factors)}


@pytest.fixture(scope="module")
def registry(own_mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    import mlflow

    from envforge.modeldir.resolve import tracking_scope
    from tests.support.models import pinned_requirements

    root = tmp_path_factory.mktemp("corners-registry")
    with tracking_scope(own_mlflow_server):
        mlflow.set_experiment("corners-registry")
        for name, factors in MODELS.items():
            for i, factor in enumerate(factors):
                source = root / f"{name}_{i}.py"
                source.write_text(CODE.format(factor=factor))
                with mlflow.start_run():
                    mlflow.pyfunc.log_model(name="model", python_model=str(source), input_example=EXAMPLE,
                                            pip_requirements=pinned_requirements(), registered_model_name=name)
    return own_mlflow_server


@pytest.fixture(scope="module")
def uv_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uv runs share their one env."""
    return tmp_path_factory.mktemp("corners-registry-home")


def _run(registry: str, home: Path, out: Path, *args: str) -> tuple[object, dict]:
    run = envforge("verify-registry", "--tracking-uri", registry, "--json", str(out), *args, home=home)
    assert "Traceback" not in run.output, run.output
    return run, json.loads(out.read_text()) if out.is_file() else {}


def _check_predictions(report: dict) -> None:
    """An oracle independent of the runner: each version's answer is the test's own x * factor."""
    for result in report["results"]:
        assert_same_as_truth(result, EXAMPLE["x"] * FACTORS[result["uri"]])


def test_latest_takes_the_highest_versions_of_each_model(registry: str, uv_home: Path, tmp_path: Path) -> None:
    run, report = _run(registry, uv_home, tmp_path / "l1.json", "--models", "corners-reg-*", "--latest", "1")
    assert run.returncode == 0, run.output
    assert sorted(r["uri"] for r in report["results"]) == ["models:/corners-reg-a/3", "models:/corners-reg-b/1"]
    assert {r["status"] for r in report["results"]} == {"unverified"}  # nothing was recorded for them
    assert report["registry"]["summary"] == {"passed": 0, "failed": 0, "error": 0, "unverified": 2}
    assert report["registry"]["environments"]["built"] == 1
    _check_predictions(report)

    plan = envforge("verify-registry", "--tracking-uri", registry, "--models", "corners-reg-*", "--latest", "2", "--dry-run",
                    home=uv_home)
    assert plan.returncode == 0, plan.output
    for label in ("corners-reg-a/3", "corners-reg-a/2", "corners-reg-b/1"):
        assert label in plan.stdout, plan.stdout
    assert "corners-reg-a/1" not in plan.stdout

    bad = envforge("verify-registry", "--tracking-uri", registry, "--models", "corners-reg-*", "--latest", "0", home=uv_home)
    assert bad.returncode == 2 and "--latest take a number >= 1" in bad.output, bad.output


def test_uris_file_verifies_exactly_the_listed_uris(registry: str, uv_home: Path, tmp_path: Path) -> None:
    listed = tmp_path / "uris.txt"
    listed.write_text("# the versions to check\nmodels:/corners-reg-a/1\n\n  models:/corners-reg-b/1  \nmodels:/corners-reg-a/1\n")
    run, report = _run(registry, uv_home, tmp_path / "u.json", "--uris-file", str(listed))
    assert run.returncode == 0, run.output
    assert [r["uri"] for r in report["results"]] == ["models:/corners-reg-a/1", "models:/corners-reg-b/1"]  # in order, once
    assert report["registry"]["summary"]["unverified"] == 2
    _check_predictions(report)

    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing yet\n\n")
    none = envforge("verify-registry", "--tracking-uri", registry, "--uris-file", str(empty), home=uv_home)
    assert none.returncode == 2 and "lists no model URI" in none.output, none.output
    missing = envforge("verify-registry", "--tracking-uri", registry, "--uris-file", str(tmp_path / "nope.txt"), home=uv_home)
    assert missing.returncode == 2 and f"--uris-file {tmp_path / 'nope.txt'}" in missing.output, missing.output


def test_backend_virtualenv_builds_with_virtualenv(registry: str, home: Path, tmp_path: Path) -> None:
    listed = tmp_path / "uris.txt"
    listed.write_text("models:/corners-reg-a/2\nmodels:/corners-reg-b/1\n")
    run, report = _run(registry, home, tmp_path / "v.json", "--uris-file", str(listed), "--backend", "virtualenv")
    assert run.returncode == 0, run.output
    assert [r["backend"] for r in report["results"]] == ["virtualenv", "virtualenv"]
    paths = {r["env"]["path"] for r in report["results"]}
    assert len(paths) == 1 and Path(paths.pop()).is_relative_to(home / "envs")  # one env, shared
    assert report["registry"]["environments"]["built"] == 1
    listed_envs = json.loads(envforge("cache", "list", "--json", home=home).stdout)["envs"]
    assert [e["backend"] for e in listed_envs] == ["virtualenv"]
    _check_predictions(report)


GATED = """
import os
import time
import mlflow
from mlflow.pyfunc import PythonModel


class Model(PythonModel):
    def predict(self, context, model_input, params=None):
        if os.path.exists({armed!r}):  # not while MLflow logs the model
            deadline = time.time() + 120
            while not os.path.exists({gate!r}):
                if time.time() > deadline:
                    raise RuntimeError("no verdict for version 1 was printed while version 2 ran")
                time.sleep(0.1)
        return model_input["x"] * 7


mlflow.models.set_model(Model())
"""


def test_each_versions_verdict_is_printed_while_its_group_still_runs(registry: str, uv_home: Path, tmp_path: Path) -> None:
    """Two versions, one env group, one runner: version 2's predict waits until the test has read version 1's
    verdict line on verify-registry's stderr. Printed by group (as before), version 2 would raise after 120 s.
    `--sandbox off`: the sandbox gives the model a /tmp of its own, where it would never see the test's files."""
    import subprocess
    import sys
    import threading

    import mlflow

    from envforge.modeldir.resolve import tracking_scope
    from tests.support.models import pinned_requirements

    armed, gate = tmp_path / "armed", tmp_path / "version-1-printed"
    first, second = tmp_path / "first.py", tmp_path / "gated.py"
    first.write_text(CODE.format(factor=6))
    second.write_text(GATED.format(armed=str(armed), gate=str(gate)))
    with tracking_scope(registry):
        mlflow.set_experiment("corners-registry-gated")
        for source in (first, second):
            with mlflow.start_run():
                mlflow.pyfunc.log_model(name="model", python_model=str(source), input_example=EXAMPLE,
                                        pip_requirements=pinned_requirements(), registered_model_name="gated-reg")
    armed.touch()
    listed = tmp_path / "uris.txt"
    listed.write_text("models:/gated-reg/1\nmodels:/gated-reg/2\n")
    out = tmp_path / "g.json"
    env = {**os.environ, "ENVFORGE_HOME": str(uv_home), "COLUMNS": "200"}
    proc = subprocess.Popen([sys.executable, "-m", "envforge", "verify-registry", "--tracking-uri", registry,
                             "--uris-file", str(listed), "--json", str(out), "--sandbox", "off"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    seen: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            seen.append(line)
            if "gated-reg/1" in line and "UNVERIFIED" in line:
                gate.touch()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        proc.wait(timeout=600)
    finally:
        proc.kill()
    reader.join(timeout=10)
    text = "".join(seen)
    assert proc.returncode == 0, text
    verdicts = [line for line in seen if "UNVERIFIED" in line]
    assert [("gated-reg/1" in v, "gated-reg/2" in v) for v in verdicts] == [(True, False), (False, True)], text
    report = json.loads(out.read_text())
    assert report["registry"]["environments"]["built"] + report["registry"]["environments"]["reused"] == 1
    for result, factor in zip(report["results"], (6, 7), strict=True):
        assert_same_as_truth(result, EXAMPLE["x"] * factor)
