"""The last nights of each model version, read back from the --log-to experiment (registry/mlflow_log.py wrote
them), as a section of the HTML report: a row per version, a cell per night (passed, failed, error,
unverified; its time on hover), tonight's result last. So the nightly page shows whether a failure is new."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from html import escape

from envforge.registry.drift import DRIFTED
from envforge.registry.mlflow_log import AS_OF, KIND_TAG, version_key
from envforge.registry.run import RegistryRun

NIGHTS = 7  # earlier runs shown, besides tonight's
_COLORS = {"passed": "#1a7f37", "failed": "#cf222e", "error": "#9a6700", "unverified": "#6e7781", DRIFTED: "#8250df"}


@dataclass(frozen=True)
class Night:
    date: str     # when that run started, UTC, "YYYY-MM-DD HH:MM"
    status: str
    seconds: float | None


def read_history(tracking_uri: str, experiment: str, nights: int = NIGHTS) -> dict[str, list[Night]]:
    """version key -> its nights, oldest first, from the experiment's last `nights` envforge runs ({} if none).
    Raises what MLflow raises: the caller decides that a missing history is only a warning."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return {}
    runs = client.search_runs([found.experiment_id], filter_string=f"tags.`{KIND_TAG}` = 'verify-registry'",
                              order_by=["attributes.start_time DESC"], max_results=nights)
    history: dict[str, list[Night]] = {}
    for run in reversed(list(runs)):
        date = datetime.datetime.fromtimestamp(run.info.start_time / 1000, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
        params = run.data.params
        for key, value in params.items():
            if key.endswith(".status") and AS_OF not in key:  # the first resolution's (the others: NAME/VERSION as of LABEL)
                version = key[: -len(".status")]
                status = DRIFTED if params.get(f"{version}.verdict") == DRIFTED else value
                history.setdefault(version, []).append(Night(date, status, run.data.metrics.get(f"{version}.seconds")))
    return history


def try_history(tracking_uri: str, experiment: str, nights: int = NIGHTS) -> dict[str, list[Night]] | None:
    """read_history, or None when the server cannot be read (logging the run reports that error)."""
    try:
        return read_history(tracking_uri, experiment, nights)
    except Exception:  # MLflow raises many types: RestException, MlflowException, connection errors
        return None


def section(run: RegistryRun, history: dict[str, list[Night]] | None, tonight: str, experiment: str) -> str:
    """The HTML section: each version of tonight's run with its earlier nights and tonight's result (a version
    verified under several resolutions: its first one's)."""
    source = (f"earlier nights from the MLflow experiment {experiment}" if history is not None
              else f"the MLflow experiment {experiment} could not be read: tonight only")
    history = history or {}
    out = [f"<h2>Last nights</h2><p class='reason' id='trend-source'>{escape(source)}</p>"
           f"<table id='trend'><thead><tr><th>version</th><th>nights (oldest first, tonight last)</th>"
           "</tr></thead><tbody>"]
    seen: set[str] = set()
    for target, result in run.results:
        key = version_key(target)
        if key in seen:
            continue
        seen.add(key)
        nights = [*history.get(key, []), Night(tonight, result.status, round(result.seconds, 3))]
        cells = "".join(_cell(n) for n in nights)
        out.append(f"<tr data-version='{escape(key)}'><td>{escape(key)}</td><td>{cells}</td></tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _cell(night: Night) -> str:
    color = _COLORS.get(night.status, "#1f2328")
    took = "" if night.seconds is None else f", {night.seconds:.1f} s"
    title = escape(f"{night.date}: {night.status}{took}")
    return (f"<span class='night' data-status='{escape(night.status)}' title='{title}' style='display:inline-block;"
            f"min-width:1.6em;margin-right:2px;padding:0 3px;color:#fff;background:{color};font-size:12px'>"
            f"{escape(night.status[:1].upper())}</span>")
