"""verify-registry --log-to EXPERIMENT: each nightly run becomes an MLflow run in that experiment, so that
reproducibility is read in the MLflow UI users already have: per version its status and env key (params) and
whether it passed and how long it took (metrics), the counts of the whole run (metrics), and the JSON, JUnit
and HTML reports (artifacts under reports/). Talks to the tracking server with an MlflowClient only: no fluent
API, so no MLflow global (active run, tracking URI, MLFLOW_EXPERIMENT_ID) is left behind."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

from envforge.errors import ResolveError
from envforge.modeldir.access import explain
from envforge.redact import redact
from envforge.registry.run import RegistryRun
from envforge.registry.select import Target
from envforge.result import PASSED
from envforge.version import __version__

ARTIFACT_DIR = "reports"
KIND_TAG = "envforge.kind"  # "verify-registry": what envforge's own runs are tagged with
AS_OF = " as of "  # NAME/VERSION as of LABEL: a second resolution's keys (MLflow keys allow no "@")
_BATCH = 100  # MLflow's limit of params (and tags) per log_batch call


def version_key(target: Target) -> str:
    """`NAME/VERSION` (a URI from --uris-file as written) with what MLflow refuses in a key replaced by `_`."""
    return _clean(f"{target.name}/{target.version}" if target.name and target.version else redact(target.uri))[:200]


def _clean(text: str) -> str:
    return re.sub(r"[^\w\-./ :]", "_", text)


def log_run(run: RegistryRun, tracking_uri: str, experiment: str, reports: list[Path], *, started_ms: int,
            passes: list[tuple[str, RegistryRun]] | None = None, verdicts: list[dict[str, Any]] | None = None) -> str:
    """Log `run` as one MLflow run of `experiment` (created if missing); returns its run id. With several
    resolutions (`passes`: label and run of each, `run` their merge), the first pass's keys are the plain
    `NAME/VERSION.*`, the others' `NAME/VERSION as of LABEL.*`, and each version's drift verdict is `NAME/VERSION.verdict`."""
    try:
        return _log(run, tracking_uri, experiment, reports, started_ms, passes or [("", run)], verdicts or [])
    except Exception as exc:  # MLflow raises many types: RestException, MlflowException, connection errors
        if known := explain(exc, f"log the run to --log-to {experiment}", tracking_uri):  # 401/403: the variables to set
            raise ResolveError(known.message, f"The reports were written. {known.remedy}") from None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ResolveError(f"--log-to {experiment}: could not log the run to {redact(tracking_uri)}: {redact(first)}",
                           "The reports were written; check that the tracking server is reachable and accepts runs.") from None


def _log(run: RegistryRun, tracking_uri: str, experiment: str, reports: list[Path], started_ms: int,
         passes: list[tuple[str, RegistryRun]], verdicts: list[dict[str, Any]]) -> str:
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    name = datetime.datetime.fromtimestamp(started_ms / 1000, datetime.timezone.utc).strftime("envforge %Y-%m-%d %H:%M UTC")
    created = client.create_run(experiment_id, start_time=started_ms, run_name=name,
                                tags={KIND_TAG: "verify-registry", "envforge.version": __version__,
                                      "envforge.exit_code": str(run.exit_code), "envforge.summary": run.summary()[:5000]})
    run_id = created.info.run_id
    now = int(datetime.datetime.now(datetime.timezone.utc).timestamp() * 1000)
    metrics = [Metric(key, float(value), now, 0) for key, value in _totals(run).items()]
    params: list[Param] = []
    tags: list[RunTag] = []
    for number, (label, one) in enumerate(passes):
        suffix = "" if number == 0 else _clean(f"{AS_OF}{label}")
        for target, result in one.results:
            key = version_key(target) + suffix
            params += [Param(f"{key}.status", result.status), Param(f"{key}.env_key", result.env_key or "")]
            metrics += [Metric(f"{key}.passed", 1.0 if result.status == PASSED else 0.0, now, 0),
                        Metric(f"{key}.seconds", round(result.seconds, 3), now, 0)]
            tags.append(RunTag(f"{key}.reason", redact(result.reason)[:5000]))
    targets = {t.uri: t for t, _ in run.results}
    params += [Param(f"{version_key(targets[v['uri']])}.verdict", str(v["verdict"])) for v in verdicts if v["uri"] in targets]
    for i in range(0, max(len(params), len(metrics), len(tags)), _BATCH):
        client.log_batch(run_id, metrics=metrics[i:i + _BATCH], params=params[i:i + _BATCH], tags=tags[i:i + _BATCH])
    for path in reports:
        client.log_artifact(run_id, str(path), artifact_path=ARTIFACT_DIR)
    client.set_terminated(run_id, status="KILLED" if run.interrupted else "FINISHED")
    return str(run_id)


def _totals(run: RegistryRun) -> dict[str, Any]:
    totals: dict[str, Any] = dict(run.counts())
    totals.update({f"envs_{k}": v for k, v in run.env_counts().items()})
    totals["seconds"] = round(run.seconds, 3)
    totals["versions"] = len(run.results)
    return totals
