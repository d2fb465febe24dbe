"""Which model versions to verify: registered models by name glob, versions by alias, the latest
N, or all of them; or a file of model URIs."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from envforge.bounds import limits
from envforge.errors import EnvforgeError, ResolveError, UsageError
from envforge.modeldir.access import explain
from envforge.redact import redact
from envforge.registry import sqlite_listing


@dataclass(frozen=True)
class Target:
    """One model version to verify. `uri` names immutable artifacts (models:/name/version) when
    the version came from the registry; a URI from --uris-file is kept as written."""

    uri: str
    name: str | None = None
    version: str | None = None
    aliases: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        if self.name and self.version:
            alias = "".join(f" @{a}" for a in self.aliases)
            return f"{self.name}/{self.version}{alias}"
        return redact(self.uri)


@dataclass(frozen=True)
class Selection:
    models: str | None = None            # a glob over registered model names
    aliases: tuple[str, ...] = ()
    latest: int | None = None
    uris_file: str | None = None


def select(selection: Selection, tracking_uri: str) -> list[Target]:
    targets: list[Target] = []
    if selection.uris_file:
        targets += _from_file(Path(selection.uris_file))
    if selection.models or not selection.uris_file:
        targets += _from_registry(selection, tracking_uri)
        if not selection.latest and not selection.aliases:  # a registry of 100,000 versions is not verified by accident
            limits.REGISTRY_VERSIONS.check(len(targets), f"The selection (--models {selection.models or '*'})", UsageError, _NARROW)
    return _dedupe(targets)


MODELS_PAGE = 100      # registered models asked for per call (MLflow pages with a token: every page is read)
VERSIONS_PAGE = 1000   # model versions per call
_NARROW = "Pass --latest N (the N highest versions of each model), --aliases, or a narrower --models glob."


def _from_file(path: Path) -> list[Target]:
    lines = limits.read_bounded(path, "text", where=f"--uris-file {path}", error=UsageError,
                                remedy="Pass a text file with one model URI per line.").splitlines()
    uris = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    if not uris:
        raise UsageError(f"--uris-file {path} lists no model URI.", "Put one model URI per line (lines starting with # are ignored).")
    return [Target(uri=u) for u in uris]


def _from_registry(selection: Selection, tracking_uri: str) -> list[Target]:
    pattern = selection.models or "*"
    bounded = not selection.latest and not selection.aliases  # else the selection is already narrowed
    listed = sqlite_listing.listing(tracking_uri)  # a SQLite store: read without MLflow (registry/sqlite_listing.py)
    if listed is None:
        names = sorted(_mlflow_listing(tracking_uri, pattern, bounded).items(), key=lambda item: item[0])
    else:
        names = sorted(((n, m) for n, m in listed.items() if fnmatch.fnmatchcase(n, pattern)), key=lambda item: item[0])
    targets: list[Target] = []
    for name, model in names:
        if listed is not None and bounded:
            limits.REGISTRY_VERSIONS.check(len(model.versions), f"The registered model {name!r}", UsageError, _NARROW)
        aliases_of = model.aliases
        chosen: list[str] = []
        if selection.aliases:
            chosen += [v for v, names_ in aliases_of.items() if set(names_) & set(selection.aliases)]
        if selection.latest:
            chosen += [str(v) for v in sorted(model.versions, reverse=True)[: selection.latest]]
        if not selection.aliases and not selection.latest:
            chosen = [str(v) for v in model.versions]
        for version_number in sorted(set(chosen), key=int):
            shown = tuple(a for a in sorted(aliases_of.get(version_number, ())) if not selection.aliases or a in selection.aliases)
            targets.append(Target(uri=f"models:/{name}/{version_number}", name=name, version=version_number, aliases=shown))
    return targets


def _mlflow_listing(tracking_uri: str, pattern: str, bounded: bool) -> dict[str, sqlite_listing.Listed]:
    """What MLflow's client lists: the names by pages, then for each matching name (in order; a model over the limit
    stops the listing there) its versions by pages and its aliases."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    names = sorted(n for n in _call(tracking_uri, lambda: _model_names(client)) if fnmatch.fnmatchcase(n, pattern))
    found = {}
    for name in names:
        versions = _call(tracking_uri, lambda n=name: _versions(client, n, bounded))  # type: ignore[misc]
        registered = _call(tracking_uri, lambda n=name: client.get_registered_model(n))  # type: ignore[misc]
        model = found[name] = sqlite_listing.Listed(name, sorted(int(v.version) for v in versions))
        for alias, number in (getattr(registered, "aliases", None) or {}).items():
            model.aliases.setdefault(str(number), []).append(alias)
    return found


def _model_names(client: Any) -> list[str]:
    names, token = [], None
    while True:
        page = client.search_registered_models(max_results=MODELS_PAGE, page_token=token)
        names += [m.name for m in page]
        token = getattr(page, "token", None)
        if not token:
            return names


def _versions(client: Any, name: str, bounded: bool = True) -> list[Any]:
    escaped = name.replace("'", "\\'")
    found, token = [], None
    while True:
        page = client.search_model_versions(f"name = '{escaped}'", max_results=VERSIONS_PAGE, page_token=token)
        found += list(page)
        # listing a model of 100,000 versions is refused after the limit, not paged to the end (issue 17)
        if bounded:
            limits.REGISTRY_VERSIONS.check(len(found), f"The registered model {name!r}", UsageError, _NARROW, at_least=True)
        token = getattr(page, "token", None)
        if not token:
            return found


def _call(tracking_uri: str, call: Any) -> Any:
    try:
        return call()
    except EnvforgeError:  # a limit (limits.REGISTRY_VERSIONS) said its own
        raise
    except Exception as exc:  # MLflow raises many types: RestException, MlflowException, connection errors
        if known := explain(exc, "list the registered models", tracking_uri):  # 401/403: the variables to set
            raise known from None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ResolveError(f"Could not list the registered models at {redact(tracking_uri)}: {redact(first)}",
                           "Check that the tracking server is reachable and that --tracking-uri (or MLFLOW_TRACKING_URI) is right.") from None


def _dedupe(targets: list[Target]) -> list[Target]:
    seen: dict[str, Target] = {}
    for target in targets:
        old = seen.get(target.uri)
        seen[target.uri] = replace(target, aliases=tuple(sorted(set(old.aliases) | set(target.aliases)))) if old else target
    return list(seen.values())
