"""Issue 33: envs whose exact resolutions are identical share one build and one runner. Three versions of one
model on a real `mlflow server`: v1 asks for the test env's pins, v2 adds `six` unpinned (already a dependency of
those pins: uv resolves the very same packages, yet the requirement lines, and so the EnvSpec keys, differ), v3
pins an older six (another resolution). Real uv resolves and builds, real runners."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import envforge, report
from tests.support.models import SCALE, pinned_requirements

pytestmark = pytest.mark.slow

NAME = "nightly-same-resolution"
EXTRAS = {1: [], 2: ["six"], 3: ["six==1.15.0"]}


@pytest.fixture(scope="module")
def registry(mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    import mlflow
    import pandas as pd

    from envforge.modeldir.resolve import tracking_scope

    root = tmp_path_factory.mktemp("same-resolution")
    with tracking_scope(mlflow_server):
        mlflow.set_experiment(NAME)
        for version, extra in EXTRAS.items():
            source = root / f"model_{version}.py"
            source.write_text(SCALE.format(factor=version + 1))
            with mlflow.start_run():
                mlflow.pyfunc.log_model(name="model", python_model=str(source), input_example=pd.DataFrame({"x": [1.0, 2.0]}),
                                        pip_requirements=pinned_requirements() + extra, registered_model_name=NAME)
    return mlflow_server


@pytest.fixture(scope="module")
def first_run(registry: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    home = tmp_path_factory.mktemp("home")
    out = home.parent / f"{home.name}-report.json"
    run = envforge("verify-registry", "--tracking-uri", registry, "--models", NAME, "--json", str(out), home=home, timeout=1800)
    assert run.returncode == 0, run.output
    document = json.loads(out.read_text())
    return {"home": home, "run": run, "report": document, "by_uri": {r["uri"]: r for r in document["results"]}}


def test_identical_resolutions_share_one_build_and_one_runner(first_run: dict) -> None:
    document, by_uri = first_run["report"], first_run["by_uri"]
    one, two, three = (by_uri[f"models:/{NAME}/{v}"] for v in (1, 2, 3))
    assert document["registry"]["environments"]["built"] == 2, document["registry"]
    assert one["env"]["key"] == two["env"]["key"] != three["env"]["key"]
    assert one["env"]["path"] == two["env"]["path"]
    # the version that uses another's env says which env it asked for; the others use their own
    assert two["env"]["own_key"] not in (None, two["env"]["key"]) and one["env"]["own_key"] is None
    assert three["env"]["own_key"] is None
    said = f"env {two['env']['own_key'][:12]} resolves to the same packages as env {two['env']['key'][:12]}: one env for both"
    assert said in first_run["run"].stderr, first_run["run"].stderr
    for result in (one, two):  # both ran in the one runner and were judged
        assert result["status"] == "unverified" and result["exit_code"] == 0, result
        assert [e["name"] for e in result["examples"]] == ["input_example"], result["examples"]


def test_cache_list_and_a_single_verify_see_the_shared_env(first_run: dict, registry: str, tmp_path: Path) -> None:
    home, two = first_run["home"], first_run["by_uri"][f"models:/{NAME}/2"]
    listing = envforge("cache", "list", "--json", home=home)
    assert listing.returncode == 0, listing.output
    envs = {e["key"]: e for e in json.loads(listing.stdout)["envs"]}
    shared = envs[two["env"]["key"]]
    assert shared["shared_by"] == [two["env"]["own_key"]]
    assert {f"models:/{NAME}/1", f"models:/{NAME}/2"} <= set(shared["models"]), shared["models"]
    table = envforge("cache", "list", home=home)
    assert "[shared: 2 requirement sets resolve to it]" in " ".join(table.stdout.split()), table.stdout
    # a later `envforge verify` of v2 alone reuses the shared env instead of building its own
    out = tmp_path / "v2.json"
    run = envforge("verify", f"models:/{NAME}/2", "--tracking-uri", registry, "--json", str(out), home=home, timeout=900)
    assert run.returncode == 0, run.output
    result = report(out)
    assert result["env"]["key"] == two["env"]["key"] and result["env"]["reused"] is True
    assert result["env"]["own_key"] == two["env"]["own_key"]
    assert len([e for e in envs.values() if e["complete"]]) == 2


def test_the_next_run_groups_them_without_resolving_again(first_run: dict, registry: str, tmp_path: Path) -> None:
    out = tmp_path / "again.json"
    run = envforge("verify-registry", "--tracking-uri", registry, "--models", NAME, "--json", str(out), home=first_run["home"],
                   timeout=900)
    assert run.returncode == 0, run.output
    envs = json.loads(out.read_text())["registry"]["environments"]
    assert envs["reused"] == 2 and envs["built"] == 0, envs
    assert "resolves to the same packages" not in run.stderr  # the store remembered: no uv resolve this time
