"""Model URI -> local directory of artifacts. The only module that talks to MLflow's stores.

URIs that always name the same artifacts (a run's path, a registered version number, an
MLflow 3 logged model) are downloaded once into the cache; aliases are first resolved to a
version number, so only that small request is repeated. Local paths are used in place.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from envforge.errors import ResolveError
from envforge.modeldir import download_digests
from envforge.modeldir.access import check_store_client, explain, store_of, write_private
from envforge.modeldir.suggest import check_scheme, registered_hint
from envforge.modeldir.tracking import check_reachable, needs_tracking, tracking_for
from envforge.redact import redact
from envforge.store.filelocks import locked
from envforge.store.layout import models_dir


def model_version(tracking: str, name: str, version: str) -> Any:
    """modeldir/light_registry.model_version, imported when a registry is asked (a local path never is: its
    REST client imports urllib.request, ssl and email, 30-40 ms of a warm local verify)."""
    from envforge.modeldir import light_registry

    return light_registry.model_version(tracking, name, version)


def alias_version(tracking: str, name: str, alias: str) -> Any:
    """modeldir/light_registry.alias_version, imported when a registry is asked (see model_version)."""
    from envforge.modeldir import light_registry

    return light_registry.alias_version(tracking, name, alias)

_MARKER = download_digests.MARKER
_VERSION_RE = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)(?P<rest>/.*)?$")
_ALIAS_RE = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/]+)(?P<rest>/.*)?$")
_LOGGED_RE = re.compile(r"^models:/(?P<id>m-[0-9a-f]+)(?P<rest>/.*)?$")
_RUNS_RE = re.compile(r"^runs:/(?P<run_id>[0-9a-zA-Z]+)/?(?P<path>.*)$")


@dataclass(frozen=True)
class ModelDir:
    """A model's artifacts on local disk, and where they came from."""

    path: Path
    uri: str
    kind: str  # "local" | "runs" | "registered" | "logged-model" | "artifact"
    tracking_uri: str | None = None
    run_id: str | None = None
    artifact_path: str | None = None
    model_id: str | None = None
    name: str | None = None
    version: str | None = None
    from_cache: bool = False
    cache_note: str | None = None  # why a cached download was downloaded again (modeldir/download_digests.py)

    @property
    def is_local(self) -> bool:
        return self.kind == "local"

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["path"] = str(self.path)
        data["uri"] = redact(self.uri)
        data["tracking_uri"] = redact(self.tracking_uri) if self.tracking_uri else None
        return data


Progress = Callable[[str], None]


def resolve(
    uri: str,
    *,
    tracking_uri: str | None = None,
    refresh: bool = False,
    progress: Progress | None = None,
    timeout: float | None = None,
    check: bool = False,
) -> ModelDir:
    """Return the local directory holding the model named by `uri`; fetching it from a tracking
    server or artifact store must finish within `timeout` seconds (None: no limit); a cached download is
    checked by size and mtime, or with `check` by hashing every file (modeldir/download_digests.py)."""
    uri = uri.strip()
    scheme = urlparse(uri).scheme
    if scheme in ("", "file") or (len(scheme) == 1 and os.name == "nt"):
        return _local(uri)
    check_scheme(uri)
    if needs_tracking(uri):  # checked before MLflow is asked: no ./mlflow.db created, no minutes of retries
        tracking = tracking_for(uri, tracking_uri)
        check_reachable(tracking, progress)
    else:
        tracking = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or _default_tracking_uri()
    return _within(timeout, uri, tracking, lambda: _remote(uri, tracking, refresh, progress, check))


def _within(timeout: float | None, uri: str, tracking: str, call: Callable[[], ModelDir]) -> ModelDir:
    """Run `call` with a deadline. MLflow's own HTTP retries can go on for minutes against a server
    that accepts connections and never answers; past the deadline the fetch is abandoned (its
    daemon thread ends with the process; the download cache only trusts a complete download)."""
    if timeout is None:
        return call()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc

    worker = threading.Thread(target=target, name="envforge-download", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise ResolveError(f"Fetching {redact(uri)} from {redact(tracking)} did not finish within {timeout:.0f} s.",
                           "Check that the tracking server and its artifact store are reachable, or raise --download-timeout "
                           "for a large model.")
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def _remote(uri: str, tracking: str, refresh: bool, progress: Progress | None, check: bool = False) -> ModelDir:
    if uri.startswith("models:/"):
        return _registered(uri, tracking, refresh, progress, check)
    if uri.startswith("runs:/"):
        match = _RUNS_RE.match(uri)
        if not match:
            raise ResolveError(f"{uri!r} is not a valid runs:/ URI.", "Use runs:/<run_id>/<artifact path>, e.g. runs:/0a1b2c/model.")
        path = match.group("path").strip("/")
        meta = {"kind": "runs", "run_id": match.group("run_id"), "artifact_path": path or None}
        return _cached_download(uri, tracking, meta, refresh, progress, check=check)
    # Any other artifact URI MLflow understands (s3:, gs:, mlflow-artifacts:, http:): may change, so never cached.
    return _cached_download(uri, tracking, {"kind": "artifact"}, True, progress)


def _local(uri: str) -> ModelDir:
    raw = urlparse(uri).path if uri.startswith("file:") else uri
    path = Path(raw).expanduser()
    if path.is_file() and path.name == "MLmodel":
        path = path.parent
    if not path.exists():
        raise ResolveError(f"No such model directory: {raw}.", "Check the path, or pass a runs:/ or models:/ URI with --tracking-uri.")
    if not path.is_dir():
        raise ResolveError(f"{raw} is a file, not a model directory.", "Pass the directory that holds the MLmodel file.")
    return ModelDir(path=path.resolve(), uri=uri, kind="local")


def _default_tracking_uri() -> str:
    import mlflow

    return str(mlflow.get_tracking_uri())


def _registered(uri: str, tracking: str, refresh: bool, progress: Progress | None, check: bool = False) -> ModelDir:
    if m := _LOGGED_RE.match(uri):
        return _cached_download(uri, tracking, {"kind": "logged-model", "model_id": m.group("id")}, refresh, progress, check=check)
    if m := _ALIAS_RE.match(uri):
        name, alias, rest = m.group("name"), m.group("alias"), m.group("rest") or ""
        if progress:
            progress(f"resolving alias @{alias}")
        version = alias_version(tracking, name, alias) or _client_call(tracking, uri, lambda c: c.get_model_version_by_alias(name, alias)).version
        return _cached_download(f"models:/{name}/{version}{rest}", tracking, {}, refresh, progress, user_uri=uri, check=check)
    if m := _VERSION_RE.match(uri):
        return _cached_download(uri, tracking, {}, refresh, progress, check=check)
    # A stage or "latest": not immutable, resolve to a version number through the registry.
    parts = uri[len("models:/"):].split("/")
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise ResolveError(
            f"{uri!r} is not a model URI envforge understands.",
            "Use models:/<name>/<version>, models:/<name>@<alias>, models:/<name>/latest or models:/m-<model id>.",
        )
    name, stage = parts[0], parts[1]
    stages = None if stage.lower() == "latest" else [stage]
    versions = _client_call(tracking, uri, lambda c: c.get_latest_versions(name, stages=stages))
    if not versions:
        raise ResolveError(f"Registered model {name!r} has no version in {stage!r}.", "List its versions in the MLflow UI, or use an explicit version.")
    version = max(versions, key=lambda v: int(v.version)).version
    return _cached_download(f"models:/{name}/{version}", tracking, {}, refresh, progress, user_uri=uri, check=check)


def _client_call(tracking: str, uri: str, call: Callable[..., object]) -> object:
    from mlflow.tracking import MlflowClient

    try:
        return call(MlflowClient(tracking_uri=tracking, registry_uri=tracking))
    except Exception as exc:  # MLflow raises many types: RestException, MlflowException, connection errors
        raise _resolve_error(uri, tracking, exc) from None


def _resolve_error(uri: str, tracking: str, exc: Exception) -> ResolveError:
    if known := explain(exc, f"fetch {redact(uri)}", tracking):  # 401/403, object-store credentials, a missing SDK
        return known
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "RESOURCE_DOES_NOT_EXIST" in str(exc) or "not found" in str(exc).lower():
        return ResolveError(
            f"{redact(uri)} does not exist at the tracking server {redact(tracking)}: {redact(first)}",
            "Check the name, version or alias, and that --tracking-uri (or MLFLOW_TRACKING_URI) points at the right server."
            + _name_hint(uri, tracking),
        )
    return ResolveError(
        f"Could not fetch {redact(uri)} from {redact(tracking)}: {redact(first)}",
        "Check that the tracking server is reachable and that --tracking-uri (or MLFLOW_TRACKING_URI) is right.",
    )


def _name_hint(uri: str, tracking: str) -> str:
    """For models:/<name>/...: the registered names closest to an unknown name (modeldir/suggest.py)."""
    m = _VERSION_RE.match(uri) or _ALIAS_RE.match(uri)
    name = m.group("name") if m else (uri[len("models:/"):].split("/")[0] if uri.startswith("models:/") else "")
    if not name or name.startswith("m-"):
        return ""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
    return registered_hint(name, lambda: [r.name for r in client.search_registered_models(max_results=1000)])


def _cache_dir(uri: str, tracking: str) -> Path:
    digest = hashlib.sha256(f"{tracking}\n{uri}".encode()).hexdigest()[:24]
    return models_dir() / digest


def _cached_download(
    uri: str,
    tracking: str,
    meta: dict[str, str | None],
    refresh: bool,
    progress: Progress | None,
    *,
    user_uri: str | None = None,
    check: bool = False,
) -> ModelDir:
    where, note = _cache_dir(uri, tracking), None
    with locked(f"model-{where.name}"):
        marker = where / _MARKER
        version = _VERSION_RE.match(uri)
        if version:  # one registry call: a store recreated at the same URI (a local sqlite file) reuses numbers
            meta = _version_meta(uri, tracking, version.group("name"), version.group("version"))
        if not refresh and marker.is_file() and (where / "model").is_dir():
            if (not version or _same_source(marker, meta)) and not (note := download_digests.altered(where / "model", marker, check)):
                return _from_marker(marker, user_uri or uri, from_cache=True, tracking=tracking)
            if note and progress:
                progress(f"{note}: downloading it again")
            elif progress:
                progress(f"{redact(uri)} is not the model version that was cached (another run or logged model)")
        if progress:
            progress(f"downloading {redact(uri)}")
        check_store_client(_client_call(tracking, uri, lambda c: store_of(c, meta)))  # s3 without boto3 or AWS keys: said first
        _download(uri, tracking, where)
        record = {"uri": redact(uri), "tracking_uri": redact(tracking), **meta, "files": download_digests.entries(where / "model")}
        write_private(marker, json.dumps(record))  # no credential on disk
        return _from_marker(marker, user_uri or uri, from_cache=False, tracking=tracking, note=note)


def _same_source(marker: Path, meta: dict[str, str | None]) -> bool:
    """Whether the cached download is of the registered version as the registry names it now."""
    try:
        cached = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return all(cached.get(key) == meta.get(key) for key in ("run_id", "model_id", "artifact_path"))


def _version_meta(uri: str, tracking: str, name: str, version: str) -> dict[str, str | None]:
    # A SQLite store or an http(s) server is asked without MLflow (modeldir/light_registry.py); else MLflow's client.
    mv = model_version(tracking, name, version) or _client_call(tracking, uri, lambda c: c.get_model_version(name, version))
    source = str(getattr(mv, "source", "") or "")
    meta: dict[str, str | None] = {"kind": "registered", "name": name, "version": str(version),
                                   "run_id": getattr(mv, "run_id", None) or None,
                                   "model_id": getattr(mv, "model_id", None) or None}
    if m := _LOGGED_RE.match(source):
        meta["model_id"] = m.group("id")
    elif meta["run_id"] and "/artifacts/" in source:
        meta["artifact_path"] = source.split("/artifacts/", 1)[1].strip("/") or None
    elif meta["run_id"] and (runs := _RUNS_RE.match(source)):  # registered from runs:/<id>/<path>
        meta["artifact_path"] = runs.group("path").strip("/") or None
    return meta


@contextlib.contextmanager
def tracking_scope(tracking: str) -> Iterator[None]:
    """MLflow resolves models:/ sources through the *global* registry URI, whatever is passed
    to download_artifacts; point both globals at `tracking` for the call, then put back exactly
    what was there. The public getters cannot say "unset" (get_registry_uri falls back to the
    tracking URI), and both setters also write MLFLOW_*_URI into os.environ, so restoring by
    value would leave a caller of the Python API pinned to this call's server.

    Shared across threads: calls for the same server enter together (a registry run downloads
    many versions at once), a call for another server waits until they have all left."""
    with _SCOPE:
        while _SCOPE.depth and _SCOPE.uri != tracking:
            _SCOPE.wait()
        if not _SCOPE.depth:
            _SCOPE.saved = _point_globals_at(tracking)
            _SCOPE.uri = tracking
        _SCOPE.depth += 1
    try:
        yield
    finally:
        with _SCOPE:
            _SCOPE.depth -= 1
            if not _SCOPE.depth:
                _restore_globals(_SCOPE.saved)
                _SCOPE.uri = None
                _SCOPE.notify_all()


class _Scope(threading.Condition):
    depth = 0
    uri: str | None = None
    saved: tuple[Any, Any, dict[str, str | None]] = (None, None, {})


_SCOPE = _Scope()


def _point_globals_at(tracking: str) -> tuple[Any, Any, dict[str, str | None]]:
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_globals
    from mlflow.tracking._tracking_service import utils as tracking_globals

    saved = (tracking_globals._tracking_uri, registry_globals._registry_uri,
             {name: os.environ.get(name) for name in _MLFLOW_URI_VARIABLES})
    mlflow.set_tracking_uri(tracking)
    mlflow.set_registry_uri(tracking)
    return saved


def _restore_globals(saved: tuple[Any, Any, dict[str, str | None]]) -> None:
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_globals

    saved_tracking, saved_registry, saved_env = saved
    mlflow.set_tracking_uri(saved_tracking)  # None unsets it (and resets the tracer's copy)
    registry_globals._registry_uri = saved_registry
    for name, value in saved_env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


_MLFLOW_URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


def _download(uri: str, tracking: str, where: Path) -> None:
    import mlflow.artifacts

    where.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(where / "model", ignore_errors=True)
    (where / _MARKER).unlink(missing_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".download-", dir=where))
    try:
        try:
            with tracking_scope(tracking):
                local = mlflow.artifacts.download_artifacts(
                    artifact_uri=uri, dst_path=str(tmp), tracking_uri=tracking, registry_uri=tracking
                )
        except Exception as exc:  # MLflow raises many types, all of which mean "could not download"
            raise _resolve_error(uri, tracking, exc) from None
        local_path = Path(local)
        if local_path.is_file():
            raise ResolveError(f"{redact(uri)} names a single file, not a model directory.", "Point at the model's directory (the one holding MLmodel).")
        os.replace(local_path, where / "model")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _from_marker(marker: Path, uri: str, *, from_cache: bool, tracking: str, note: str | None = None) -> ModelDir:
    """The marker holds the redacted tracking URI; the ModelDir gets the one the caller used (uploads need it)."""
    data = json.loads(marker.read_text())
    return ModelDir(
        path=marker.parent / "model",
        uri=uri,
        kind=str(data.get("kind") or "registered"),
        tracking_uri=tracking,
        run_id=data.get("run_id"),
        artifact_path=data.get("artifact_path"),
        model_id=data.get("model_id"),
        name=data.get("name"),
        version=data.get("version"),
        from_cache=from_cache,
        cache_note=note,
    )
