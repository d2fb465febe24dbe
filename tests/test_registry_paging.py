"""verify-registry's selection reads every page MLflow returns (registry/select.py): a registry of 1,000
versions is listed in pages, so paging is proven here with pages of 2 on a real SQLite registry of
3 models x 3 versions, not with 1,000 models."""

from __future__ import annotations

import pytest

from envforge.errors import UsageError
from envforge.registry import select as select_mod
from envforge.registry.select import Selection, select

MODELS, VERSIONS = 3, 3


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real MLflow SQLite registry: MODELS models of VERSIONS versions (sources are plain directories;
    listing never downloads them), plus one model outside the glob."""
    from mlflow.tracking import MlflowClient

    root = tmp_path_factory.mktemp("paging")
    tracking = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
    for name in [f"page-{i}" for i in range(MODELS)] + ["other"]:
        client.create_registered_model(name)
        for v in range(VERSIONS):
            source = root / name / str(v)
            source.mkdir(parents=True)
            client.create_model_version(name, source.as_uri())
    client.set_registered_model_alias("page-1", "champion", "2")
    return tracking


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(select_mod.sqlite_listing, "listing", lambda tracking: None)  # MLflow's pages, as for a server
    monkeypatch.setattr(select_mod, "MODELS_PAGE", 2)
    monkeypatch.setattr(select_mod, "VERSIONS_PAGE", 2)


def test_every_page_of_models_and_versions_is_listed(registry: str, small_pages: None) -> None:
    targets = select(Selection(models="page-*"), registry)
    assert [t.uri for t in targets] == [f"models:/page-{i}/{v}" for i in range(MODELS) for v in range(1, VERSIONS + 1)]
    assert [t.aliases for t in targets if t.aliases] == [("champion",)]
    everything = select(Selection(), registry)  # 4 models: two pages of models
    assert len(everything) == (MODELS + 1) * VERSIONS and everything[VERSIONS - 1].uri == f"models:/other/{VERSIONS}"


def test_latest_n_sees_the_versions_on_later_pages(registry: str, small_pages: None) -> None:
    assert [t.uri for t in select(Selection(models="page-0", latest=2), registry)] == ["models:/page-0/2", "models:/page-0/3"]


def test_a_model_over_the_limit_is_refused_while_paging(registry: str, small_pages: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVFORGE_MAX_REGISTRY_VERSIONS", "2")
    with pytest.raises(UsageError) as info:
        select(Selection(models="page-0"), registry)
    assert "page-0" in info.value.message and "--latest" in info.value.remedy
