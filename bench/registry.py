"""A nightly registry run: `verify-registry` against separate `envforge verify` calls and against
`mlflow models predict --env-manager uv` on the same 12 model versions (issue 6's benchmark).

Called by bench/run.py last (skip with --no-registry). Untimed set-up: a local MLflow registry
(SQLite store in the bench's temp dir) with 3 registered models of 4 versions each; each model's
versions share one environment, the three models have three (their requirements differ by a line
naming a package the model already depends on: another env key, the same packages). Every
version is recorded with `envforge record`. Then, once (each case takes minutes):

- `registry_grouped`: `envforge verify-registry --models 'bench-*' --workers 2 --json F`, a new empty
  ENVFORGE_HOME: 12 downloads, 3 builds, 3 runner processes;
- `registry_separate`: 12 `envforge verify models:/NAME/V` calls in a row, one new empty ENVFORGE_HOME
  for the 12: 12 downloads, 3 builds, 12 runners;
- `registry_mlflow`: 12 `mlflow models predict -m models:/NAME/V --env-manager uv` calls, an env built per call.

uv's package cache is warm for all three. Ratios: `registry_separate/registry_grouped` and
`registry_mlflow/registry_grouped`.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

Runner = Callable[[list[str], dict[str, str]], tuple[float, subprocess.CompletedProcess]]
EnvMaker = Callable[..., dict[str, str]]
MODELS = {"bench-a": [], "bench-b": ["threadpoolctl"], "bench-c": ["joblib"]}  # extra requirement lines: 3 env keys
VERSIONS = 4


def _check(proc: subprocess.CompletedProcess, what: str) -> None:
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def _log_registry(tracking: str) -> list[str]:
    """3 models x 4 versions in a local registry; returns their models:/ URIs."""
    import mlflow
    import mlflow.sklearn
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    mlflow.set_tracking_uri(tracking)
    X, y = load_iris(return_X_y=True, as_frame=True)
    uris = []
    for name, extra in MODELS.items():
        for version in range(1, VERSIONS + 1):
            clf = LogisticRegression(max_iter=200 + version).fit(X, y)
            with mlflow.start_run():
                mlflow.sklearn.log_model(clf, name="model", input_example=X.head(5), registered_model_name=name,
                                         extra_pip_requirements=extra or None)
            uris.append(f"models:/{name}/{version}")
    return uris


def measure(tmp: Path, run: Runner, env: EnvMaker, envforge: str, mlflow: str) -> dict[str, list[dict]]:
    root = tmp / "registry"
    root.mkdir()
    tracking = f"sqlite:///{root / 'mlflow.db'}"
    print(f"registry: logging {len(MODELS) * VERSIONS} model versions over {len(MODELS)} environments -> {tracking}")
    uris = _log_registry(tracking)
    for uri in uris:  # untimed: expectations for every version, as a nightly job would have
        _check(run([envforge, "record", uri, "--tracking-uri", tracking], env(ENVFORGE_HOME=str(root / "home-record")))[1],
               f"envforge record {uri}")

    secs, proc = run([envforge, "verify-registry", "--tracking-uri", tracking, "--models", "bench-*", "--workers", "2",
                      "--json", str(root / "grouped.json")], env(ENVFORGE_HOME=str(root / "home-grouped")))
    _check(proc, "envforge verify-registry")
    report = json.loads((root / "grouped.json").read_text())
    statuses = sorted({r["status"] for r in report["results"]})
    if len(report["results"]) != len(uris) or statuses != ["passed"]:
        raise SystemExit(f"verify-registry did not pass all {len(uris)} versions: {statuses}")
    grouped = {"seconds": secs, "versions": len(uris), "environments": report["registry"].get("environments")}
    print(f"  registry_grouped   {secs:7.2f} s")

    total, reused = 0.0, 0
    for i, uri in enumerate(uris):
        secs, proc = run([envforge, "verify", uri, "--tracking-uri", tracking, "--json", str(root / f"sep-{i}.json")],
                         env(ENVFORGE_HOME=str(root / "home-separate")))
        _check(proc, f"envforge verify {uri}")
        reused += bool(json.loads((root / f"sep-{i}.json").read_text())["results"][0]["env"]["reused"])
        total += secs
    separate = {"seconds": total, "calls": len(uris), "env_reused": reused}
    print(f"  registry_separate  {total:7.2f} s  ({reused} of {len(uris)} reused an env)")

    example = root / "serving_input.json"
    total = 0.0
    for uri in uris:
        if not example.is_file():
            import mlflow as mlflow_mod

            mlflow_mod.set_tracking_uri(tracking)
            local = mlflow_mod.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(root / "example-model"))
            example.write_text((Path(local) / "serving_input_example.json").read_text())
        secs, proc = run([mlflow, "models", "predict", "-m", uri, "-i", str(example), "-t", "json", "--env-manager", "uv"],
                         env(MLFLOW_TRACKING_URI=tracking))
        _check(proc, f"mlflow models predict {uri}")
        total += secs
    print(f"  registry_mlflow    {total:7.2f} s")
    return {"registry_grouped": [grouped], "registry_separate": [separate],
            "registry_mlflow": [{"seconds": total, "calls": len(uris)}]}


def ratios(med: dict[str, float]) -> dict[str, float]:
    return {"registry_separate/registry_grouped": med["registry_separate"] / med["registry_grouped"],
            "registry_mlflow/registry_grouped": med["registry_mlflow"] / med["registry_grouped"]}
