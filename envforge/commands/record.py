"""`envforge record`: run the model in the current (training) environment and store what it answers;
with --resolve, in the env rebuilt as of that moment instead (commands/baseline.py), marked as such."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from envforge.backends.base import BuildOptions
from envforge.backends.run_options import RunOptions
from envforge.errors import EnvforgeError, ModelRunError, UsageError
from envforge.execution.executor import run_runner
from envforge.modeldir import download_digests, input_policy
from envforge.modeldir import expectations as expectations_mod
from envforge.modeldir import synthesize as synth
from envforge.modeldir.download_options import DownloadOptions
from envforge.modeldir.resolve import ModelDir
from envforge.modeldir.resolve import resolve as resolve_model
from envforge.modeldir.unstored import not_stored
from envforge.processes.proc import child_env
from envforge.secret_env import without_credentials
from envforge.spec.mlmodel import read_mlmodel
from envforge.version import __version__


@dataclass(frozen=True)
class RecordResult:
    uri: str
    location: str            # where the expectations were stored
    local_copy: str          # the file next to the local model directory
    examples: tuple[str, ...]
    python: str | None
    lock: str | None = None  # where `lock=True` stored the rebuilt env's lock
    sources: tuple[str, ...] = ()  # where each example's input came from (modeldir/synthesize.py SOURCES)
    baseline: dict[str, object] | None = None  # the stored `baseline` field: where the predictions were recorded


def record(uri: str, *, tracking_uri: str | None = None, inputs: tuple[str, ...] = (),
           predict_timeout: float = 900.0, python: str | None = None, lock: bool = False,
           build: BuildOptions | None = None, synthesize: bool = True, backend: str = "uv",
           resolve: str | None = None, run: RunOptions | None = None, download: DownloadOptions | None = None) -> RecordResult:
    """Predict with the current interpreter (or `python`) in a subprocess and store the expectations;
    with `build.resolve` set (--resolve), predict in the model's env rebuilt as of then instead (`python`
    does not apply; `resolve` is a shorthand for it); with `lock`, also rebuild the model's env from its
    requirements and store its exact lock."""
    build, run, download = build or BuildOptions(), run or RunOptions(), download or DownloadOptions()
    if resolve is not None:
        build = replace(build, resolve=resolve)
    rebuilt = build.resolve is not None
    if rebuilt and python:
        raise UsageError("--python names the training environment, and --resolve asks for a rebuilt one: pass one of them.",
                         "Drop --resolve to record in the training environment, or --python to record in the rebuild.")
    baseline: dict[str, object] = {"kind": expectations_mod.TRAINING}
    if rebuilt:
        from envforge.commands.baseline import run_rebuilt

        loaded, runs, output, baseline = run_rebuilt(uri, tracking_uri=tracking_uri, inputs=inputs, synthesize=synthesize,
                                                     backend=backend, build=build, limits=run, download=download,
                                                     predict_timeout=predict_timeout)
        model, mlmodel = loaded.model, loaded.mlmodel
        where = f"the env rebuilt as of {baseline.get('resolved_as_of') or 'today'}"
    else:
        model = resolve_model(uri, tracking_uri=tracking_uri)
        mlmodel = read_mlmodel(model.path)
        runs = input_policy.all_given(model.path, mlmodel, inputs, synthesize)  # synthesized rows are stored: later verifies run them
        where, output = "the current environment", None
    if not runs:
        raise UsageError(f"{uri} has no input example, so there is nothing to record.",
                         "Pass one with --input FILE (a JSON input example).")
    if output is None:  # the training environment is the user's own: keep its PYTHONPATH and variables
        env = without_credentials(child_env(prefixes=("UV_", "PYTHON", "MLFLOW_", "VIRTUAL_ENV", "CONDA")))
        output = run_runner([python or sys.executable], model.path, runs, timeout=predict_timeout, freeze=True, env=env)
    if output.load_error:
        raise ModelRunError(f"The model failed to load in {where}: {output.load_error.get('type')}: "
                            f"{output.load_error.get('message')}",
                            "Try another --resolve date (`envforge bisect URI` finds one), or record from the environment the "
                            "model was trained in." if rebuilt else "Record from the environment the model was trained in.")
    for failed in output.unknowable():
        raise UsageError(f"{uri} has no input example and none could be synthesized, so there is nothing to record: "
                         f"{failed['unknowable']}.", "Pass one with --input FILE (a JSON input example).")
    for failed in output.failures():
        error = failed.get("error") or {}
        made = next((synth.phrase(r.get("source")) for r in runs if r["name"] == failed["name"]
                     and synth.source_of(r) in synth.SYNTHESIZED), None)
        raise ModelRunError(f"The model raised on {failed['name']!r}" + (f" (an input {made})" if made else "")
                            + f" in {where}: {error.get('type')}: {error.get('message')}",
                            "Pass a real input with --input FILE." if made else "Fix the model or the input, then record again.")
    runs = synth.settle(runs, output.examples)
    document = expectations_mod.build(runs, output.data, __version__, baseline, model_dir=model.path)
    local, location = store_document(model, document, mlmodel.model_id)
    stored_lock = _store_lock(model, uri, tracking_uri, build, run, download, mlmodel.model_id) if lock else None
    return RecordResult(uri=uri, location=location, local_copy=str(local),
                        examples=tuple(r["name"] for r in runs), python=output.data.get("python"), lock=stored_lock,
                        sources=tuple(synth.source_of(r) for r in runs), baseline=baseline)


def store_document(model: ModelDir, document: dict[str, object], model_id: str | None) -> tuple[Path, str]:
    """Write the expectations next to the local model directory and, for a tracked model, store them with
    the run or logged model; returns (the local file, where it was stored)."""
    local = model.path / expectations_mod.FILENAME
    _write(local, document)
    return local, (str(local) if model.is_local else _upload(model, local, model_id or model.model_id))


def _store_lock(model: ModelDir, uri: str, tracking_uri: str | None, build: BuildOptions, run: RunOptions,
                download: DownloadOptions, model_id: str | None) -> str:
    """Lock the env rebuilt from the model's own requirements (a stored lock is ignored: this
    one replaces it) and store it next to the expectations."""
    from envforge.pipeline import load_model, write_lock
    from envforge.spec.envlock import LOCK_FILENAME

    loaded = load_model(str(model.path) if model.is_local else uri, tracking_uri=tracking_uri, stored_lock=False, build=build,
                        download=download)
    text = write_lock(loaded, uri, build, lambda text: None, run=run).text
    local = model.path / LOCK_FILENAME
    tmp = local.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(local)
    return str(local) if model.is_local else _upload(model, local, model_id or model.model_id)


def _write(path: Path, document: dict[str, object]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, indent=1, allow_nan=True))
    tmp.replace(path)


def _upload(model: ModelDir, local: Path, model_id: str | None) -> str:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=model.tracking_uri, registry_uri=model.tracking_uri)
    try:
        if model_id:
            client.log_model_artifact(model_id, str(local))
            return _mirrored(model, local, f"models:/{model_id}/{local.name}")
        if model.run_id:
            path = model.artifact_path or None
            client.log_artifact(model.run_id, str(local), artifact_path=path)
            return _mirrored(model, local, f"runs:/{model.run_id}/{(path + '/') if path else ''}{local.name}")
    except EnvforgeError:
        raise
    except Exception as exc:  # MLflow raises many types
        raise not_stored(local, model.tracking_uri, exc, _option(local)) from None  # 401/403 named; out of the cache
    raise UsageError(f"envforge cannot tell which run or logged model {model.uri} belongs to, so it cannot store {local.name} there.",
                     _kept(local))


def _mirrored(model: ModelDir, local: Path, location: str) -> str:
    """Stored on the server: the cached download now holds the file as the server does (modeldir/download_digests.py)."""
    download_digests.adopt(model.path, local)
    return location


def _kept(local: Path) -> str:
    return f"The file was written to {local}; pass it to verify with {_option(local)}."


def _option(local: Path) -> str:
    return "--expected" if local.name == expectations_mod.FILENAME else "--lock"


__all__ = ["RecordResult", "record", "store_document"]
