"""The virtualenv backend next to MLflow's own virtualenv env manager, on bench/run.py's model.

Called by bench/run.py after its uv rounds (skip with --no-virtualenv). One untimed warm-up build
fills pip's cache first; then, per round:

| name               | command                                                                  | state |
|--------------------|--------------------------------------------------------------------------|-------|
| `venv_cold`        | `envforge verify DIR --backend virtualenv --json F`                      | ENVFORGE_HOME/envs removed, pip cache warm |
| `venv_warm`        | the same                                                                  | env reused (checked via `env.reused`) |
| `mlflow_venv_cold` | `mlflow models prepare-env -m DIR --env-manager virtualenv`              | new empty MLFLOW_ENV_ROOT, pip cache warm |
| `mlflow_venv_warm` | the same again                                                            | same MLFLOW_ENV_ROOT: MLflow finds its env |

`prepare-env` only builds; envforge's numbers also load the model and predict, so the ratios
understate envforge's lead. A failing `prepare-env` (offline, MLflow wants to download CPython
through pyenv) is recorded with its exit code, message and time; its ratios are then null.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

Runner = Callable[[list[str], dict[str, str]], tuple[float, subprocess.CompletedProcess]]
EnvMaker = Callable[..., dict[str, str]]


def _verify(envforge: str, model_dir: Path, home: Path, report: Path, run: Runner, env: EnvMaker, want_reused: bool) -> dict:
    secs, proc = run([envforge, "verify", str(model_dir), "--backend", "virtualenv", "--json", str(report)],
                     env(ENVFORGE_HOME=str(home)))
    result = json.loads(report.read_text())["results"][0] if report.is_file() else {}
    if proc.returncode != 0 or result.get("status") != "passed":
        raise SystemExit(f"envforge verify --backend virtualenv failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    if result["env"]["reused"] is not want_reused:
        raise SystemExit(f"expected env.reused={want_reused}, got {result['env']['reused']}")
    return {"seconds": secs, "env_reused": want_reused, "steps": {s["name"]: s["seconds"] for s in result["steps"]}}


def _prepare_env(mlflow: str, model_dir: Path, env_root: Path, run: Runner, env: EnvMaker) -> dict:
    argv = [mlflow, "models", "prepare-env", "-m", str(model_dir), "--env-manager", "virtualenv"]
    secs, proc = run(argv, env(MLFLOW_ENV_ROOT=str(env_root)))
    sample: dict = {"seconds": secs, "ok": proc.returncode == 0, "returncode": proc.returncode}
    if proc.returncode != 0:
        lines = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        sample["error"] = "\n".join(lines[-6:])
    return sample


def measure(model_dir: Path, tmp: Path, repeat: int, *, run: Runner, env: EnvMaker, envforge: str, mlflow: str) -> dict[str, list[dict]]:
    home = tmp / "home-virtualenv"
    print("untimed warm-up: envforge verify --backend virtualenv (fills pip's cache)")
    print(f"  {_verify(envforge, model_dir, home, tmp / 'venv-warmup.json', run, env, want_reused=False)['seconds']:.2f} s")
    samples: dict[str, list[dict]] = {"venv_cold": [], "venv_warm": [], "mlflow_venv_cold": [], "mlflow_venv_warm": []}
    for i in range(1, repeat + 1):
        shutil.rmtree(home / "envs")  # untimed: an empty env cache, pip's package cache kept
        env_root = tmp / f"mlflow-envs-{i}"
        round_ = {
            "venv_cold": _verify(envforge, model_dir, home, tmp / "venv-cold.json", run, env, want_reused=False),
            "venv_warm": _verify(envforge, model_dir, home, tmp / "venv-warm.json", run, env, want_reused=True),
            "mlflow_venv_cold": _prepare_env(mlflow, model_dir, env_root, run, env),
            "mlflow_venv_warm": _prepare_env(mlflow, model_dir, env_root, run, env),
        }
        shutil.rmtree(env_root, ignore_errors=True)  # untimed: keep disk use flat
        for name, sample in round_.items():
            samples[name].append(sample)
            failed = "" if sample.get("ok", True) else f"  FAILED (exit {sample['returncode']}): {sample['error'].splitlines()[-1]}"
            print(f"  round {i}/{repeat}  {name:<16} {sample['seconds']:7.2f} s{failed}")
    return samples


def ratios(med: dict[str, float], samples: dict[str, list[dict]]) -> dict[str, float | None]:
    """MLflow's time over envforge's; None where MLflow failed (its time to fail is not a build time)."""
    ok = {name: all(s.get("ok", True) for s in samples[name]) for name in ("mlflow_venv_cold", "mlflow_venv_warm")}
    return {
        "mlflow_venv/venv_cold": med["mlflow_venv_cold"] / med["venv_cold"] if ok["mlflow_venv_cold"] else None,
        "mlflow_venv_warm/venv_warm": med["mlflow_venv_warm"] / med["venv_warm"] if ok["mlflow_venv_warm"] else None,
        "venv_cold/cold": med["venv_cold"] / med["cold"],
        "venv_warm/warm": med["venv_warm"] / med["warm"],
    }
