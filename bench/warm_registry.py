"""A warm verify of a cached registered version, with envforge installed as users install it: beside full `mlflow`
(the quickstart extra, the bench venv) and with `mlflow-skinny` only (a venv of its own, envforge's own dependencies).

The bench's model is registered as models:/bench-iris/1 in a local SQLite store (MLflow's client, untimed); each
flavour verifies it once untimed (download, env), then N timed rounds of

    envforge verify models:/bench-iris/1 --tracking-uri sqlite:////.../mlflow.db --json F

in the warm home (checked: the resolve step says `cached`, the env is reused). Samples: `warm_registered_full`,
`warm_registered_skinny`, each with envforge's per-step seconds; ratios over the floor and from `mlflow_uv`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAME = "bench-iris"


def _register(model_dir: Path, store: Path) -> str:
    from mlflow.tracking import MlflowClient

    store.mkdir(parents=True, exist_ok=True)
    tracking = f"sqlite:///{store / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
    experiment = client.create_experiment("bench", artifact_location=(store / "artifacts").as_uri())
    run = client.create_run(experiment)
    client.log_artifacts(run.info.run_id, str(model_dir), artifact_path="model")
    client.set_terminated(run.info.run_id)
    client.create_registered_model(NAME)
    client.create_model_version(NAME, source=f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    return tracking


def skinny_envforge(tmp: Path, run: Callable, env: Callable, bin_dir: Path) -> str:
    """envforge in a new venv with its own dependencies only (mlflow-skinny, no full mlflow); its path."""
    venv = tmp / "skinny-venv"
    for argv in ([str(bin_dir / "uv"), "venv", "--quiet", "--python", sys.executable, str(venv)],
                 [str(bin_dir / "uv"), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), "-e", str(ROOT)]):
        proc = run(argv, env())[1]
        if proc.returncode != 0:
            sys.exit(f"skinny venv: {' '.join(argv)} failed:\n{proc.stderr[-3000:]}")
    check = run([str(venv / "bin" / "python"), "-c", "import importlib.util as u; print(u.find_spec('sqlalchemy') is None)"], env())[1]
    if check.stdout.strip() != "True":
        sys.exit("skinny venv: full mlflow's dependencies are installed there; it would not measure mlflow-skinny")
    return str(venv / "bin" / "envforge")


class Failed(Exception):
    """A flavour that cannot verify the version at all (an envforge whose MLflow cannot read the store)."""


def _verify(envforge: str, uri: str, tracking: str, home: Path, report: Path, run: Callable, env: Callable) -> dict:
    report.unlink(missing_ok=True)
    secs, proc = run([envforge, "verify", uri, "--tracking-uri", tracking, "--json", str(report)], env(ENVFORGE_HOME=str(home)))
    if not report.is_file():
        raise Failed(f"envforge verify {uri} failed (exit {proc.returncode}): {proc.stderr.strip()[-600:]}")
    result = json.loads(report.read_text())["results"][0]
    if result["status"] not in ("passed", "unverified"):
        raise Failed(f"envforge verify {uri}: {result['status']}: {result['reason']}")
    steps = {s["name"]: s["seconds"] for s in result["steps"]}
    details = {s["name"]: s.get("detail") for s in result["steps"]}
    return {"seconds": secs, "steps": steps, "resolve": details.get("resolve"), "env_reused": result["env"]["reused"]}


def measure(model_dir: Path, tmp: Path, home: Path, repeat: int, *, run: Callable, env: Callable, envforge: str,
            skinny: str | None = None) -> dict[str, list[dict]]:
    print("\nwarm verify of a cached registered version (SQLite registry): full mlflow vs mlflow-skinny")
    tracking = _register(model_dir, tmp / "registry-store")
    flavours = {"full": envforge, "skinny": skinny or skinny_envforge(tmp, run, env, Path(envforge).parent)}
    uri = f"models:/{NAME}/1"
    for flavour, exe in list(flavours.items()):
        try:
            print(f"  untimed warm-up ({flavour}): {_verify(exe, uri, tracking, home, tmp / 'wr.json', run, env)['seconds']:.2f} s")
        except Failed as exc:  # said, and that flavour has no samples (its ratios are left out), never a made-up number
            print(f"  {flavour}: FAILED, not measured: {exc}")
            del flavours[flavour]
    samples: dict[str, list[dict]] = {f"warm_registered_{f}": [] for f in flavours}
    for i in range(1, repeat + 1):
        for flavour, exe in flavours.items():
            try:
                s = _verify(exe, uri, tracking, home, tmp / "wr.json", run, env)
            except Failed as exc:
                sys.exit(f"warm_registered_{flavour}: {exc}")
            if s["resolve"] != "cached" or not s["env_reused"]:
                sys.exit(f"warm_registered_{flavour}: expected a cached model and a reused env, got {s}")
            samples[f"warm_registered_{flavour}"].append(s)
            print(f"  round {i}/{repeat}  warm_registered_{flavour:<7} {s['seconds']:7.2f} s  (resolve {s['steps'].get('resolve', 0):.2f} s)")
    return samples


def ratios(med: dict[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for flavour in ("full", "skinny"):
        key = f"warm_registered_{flavour}"
        if key in med:
            out[f"{key}/floor"] = med[key] / med["floor"]
            out[f"mlflow_uv/{key}"] = med["mlflow_uv"] / med[key]
    return out
