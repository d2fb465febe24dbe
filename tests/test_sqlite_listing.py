"""registry/sqlite_listing.py: verify-registry lists a SQLite registry with sqlite3, without importing MLflow (issue 33:
`import mlflow` and a store open were seconds of every run before anything started), and selects exactly what MLflow's
client would: the same versions (a deleted one left out), aliases, --latest and --aliases, on a real SQLite registry."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from envforge.registry import select as select_mod
from envforge.registry import sqlite_listing
from envforge.registry.select import Selection, select


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real MLflow SQLite registry: two models of three versions (the second's version 2 deleted), two aliases."""
    from mlflow.tracking import MlflowClient

    root = tmp_path_factory.mktemp("listing")
    tracking = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
    for name in ("list-a", "list-b", "zother"):
        client.create_registered_model(name)
        for v in range(3):
            source = root / name / str(v)
            source.mkdir(parents=True)
            client.create_model_version(name, source.as_uri())
    client.delete_model_version("list-b", "2")
    client.set_registered_model_alias("list-a", "champion", "2")
    client.set_registered_model_alias("list-b", "champion", "3")
    client.set_registered_model_alias("list-b", "candidate", "3")
    return tracking


SELECTIONS = [Selection(), Selection(models="list-*"), Selection(models="list-b", latest=2),
              Selection(models="list-*", aliases=("champion",)), Selection(models="list-*", aliases=("candidate",), latest=1)]


@pytest.mark.parametrize("selection", SELECTIONS, ids=lambda s: f"{s.models}-{s.aliases}-{s.latest}")
def test_the_sqlite_listing_selects_what_mlflow_lists(registry: str, selection: Selection, monkeypatch: pytest.MonkeyPatch) -> None:
    assert sqlite_listing.listing(registry) is not None  # read without MLflow
    read = select(selection, registry)
    monkeypatch.setattr(select_mod.sqlite_listing, "listing", lambda tracking: None)
    assert read == select(selection, registry) and read  # MLflow's client: the very same targets


def test_selection_from_a_sqlite_registry_imports_no_mlflow(registry: str) -> None:
    code = ("import sys; from envforge.registry.select import Selection, select; "
            f"targets = select(Selection(models='list-*'), {registry!r}); "
            "print(len(targets), sorted(m for m in sys.modules if m == 'mlflow' or m.startswith('mlflow.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["5", "[]"], out


def test_what_the_reader_does_not_know_is_left_to_mlflow(registry: str, tmp_path_factory: pytest.TempPathFactory,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.tracking import MlflowClient

    assert sqlite_listing.listing("http://127.0.0.1:5000") is None
    assert sqlite_listing.listing(f"sqlite:///{tmp_path_factory.mktemp('none') / 'missing.db'}") is None
    monkeypatch.setenv("MLFLOW_ENABLE_WORKSPACES", "true")
    assert sqlite_listing.listing(registry) is None
    monkeypatch.delenv("MLFLOW_ENABLE_WORKSPACES")
    prompts = f"sqlite:///{tmp_path_factory.mktemp('prompts') / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=prompts, registry_uri=prompts)
    client.create_registered_model("a-prompt")
    with sqlite3.connect(prompts.removeprefix("sqlite:///")) as conn:  # what a registered prompt leaves (MLflow's rule, not the reader's)
        conn.execute("INSERT INTO registered_model_tags (name, key, value) VALUES ('a-prompt', 'mlflow.prompt.is_prompt', 'true')")
    assert sqlite_listing.listing(prompts) is None


def test_the_artifact_store_of_a_run_or_logged_model_is_read_as_mlflow_reads_it(registry: str) -> None:
    """The download cache's object-store pre-check (modeldir/resolve.py) reads it without opening MLflow's tracking store."""
    from mlflow.tracking import MlflowClient

    from envforge.modeldir.sqlite_registry import artifact_store

    client = MlflowClient(tracking_uri=registry, registry_uri=registry)
    run = client.create_run(client.create_experiment("listing-artifacts"))
    assert artifact_store(registry, {"run_id": run.info.run_id}) == client.get_run(run.info.run_id).info.artifact_uri
    logged = client.create_logged_model(run.info.experiment_id)
    assert artifact_store(registry, {"model_id": logged.model_id}) == client.get_logged_model(logged.model_id).artifact_location
    assert artifact_store(registry, {"run_id": "0" * 32}) is None  # not there: MLflow says what is wrong
    assert artifact_store("http://127.0.0.1:5000", {"run_id": run.info.run_id}) is None
