"""verify-registry's selections and backends that no other test drove: --latest N, --uris-file and
--backend virtualenv, against a real `mlflow server` of this module's own (models named corners-reg-*)."""

from __future__ import annotations

import json
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
