"""The conda backend on a model whose conda.yaml names a local conda channel (bench/run.py; skip with --no-conda).

The channel is the tests' one (tests/support/conda_channel.py: python, a CPython this machine has of the
bench venv's minor version, repackaged; pip from its ensurepip wheel; and ef-hello, a conda-only
executable the model's predict runs), built once per machine; it prints what it packaged. The
model's pip section (mlflow, pandas, numpy, cloudpickle) comes from the package index through uv.
One untimed warm-up fills uv's and py-rattler's package caches; then, per round:

| name              | command                                                              | state |
|-------------------|----------------------------------------------------------------------|-------|
| `conda_lock`      | `envforge lock DIR --backend conda -o LOCK`                          | solve + pip resolution only, no env |
| `conda_cold`      | `envforge verify DIR --backend conda --json F`                       | empty ENVFORGE_HOME/envs: solve, lock, link, install, predict |
| `conda_from_lock` | `envforge verify DIR --backend conda --lockfile LOCK --json F`       | empty ENVFORGE_HOME/envs: no solve, install exactly LOCK, predict |
| `conda_warm`      | `envforge verify DIR --backend conda --json F`                       | env reused (checked via `env.reused`) |
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

Runner = Callable[[list[str], dict[str, str]], tuple[float, subprocess.CompletedProcess]]
EnvMaker = Callable[..., dict[str, str]]
REPO = Path(__file__).resolve().parent.parent


def _fail(what: str, proc: subprocess.CompletedProcess) -> None:
    raise SystemExit(f"{what} failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def _verify(envforge: str, model_dir: Path, home: Path, report: Path, run: Runner, env: EnvMaker, want_reused: bool,
            *extra: str) -> dict:
    secs, proc = run([envforge, "verify", str(model_dir), "--backend", "conda", *extra, "--json", str(report)],
                     env(ENVFORGE_HOME=str(home)))
    result = json.loads(report.read_text())["results"][0] if report.is_file() else {}
    if proc.returncode != 0 or result.get("status") != "passed":
        _fail("envforge verify --backend conda", proc)
    if result["env"]["reused"] is not want_reused:
        raise SystemExit(f"expected env.reused={want_reused}, got {result['env']['reused']}")
    return {"seconds": secs, "env_reused": want_reused, "steps": {s["name"]: s["seconds"] for s in result["steps"]}}


def _model(tmp: Path, run: Runner, env: EnvMaker, envforge: str) -> Path:
    sys.path.insert(0, str(REPO))
    from tests.support.conda_channel import ensure_channel, packaged
    from tests.support.conda_models import fake_ef_hello, save_conda_model

    print("conda: building (or finding) the local test channel")
    channel = ensure_channel().as_uri()
    held = packaged(channel)
    print(f"conda: {channel} holds python {held['python']} (from {held['source']}), pip {held['pip']}, ef-hello 1.0.0")
    model = save_conda_model(tmp / "conda-model", [channel])
    training_bin = fake_ef_hello(tmp / "conda-training-bin")
    record_env = env(ENVFORGE_HOME=str(tmp / "home-conda-record"))
    record_env["PATH"] = f"{training_bin}:{record_env['PATH']}"
    secs, proc = run([envforge, "record", str(model)], record_env)
    if proc.returncode != 0:
        _fail("envforge record (conda model)", proc)
    return model


def measure(tmp: Path, repeat: int, *, run: Runner, env: EnvMaker, envforge: str) -> dict[str, list[dict]]:
    model, home, fresh, lock = _model(tmp, run, env, envforge), tmp / "home-conda", tmp / "home-conda-fresh", tmp / "conda-lock.yml"
    print("untimed warm-up: envforge verify --backend conda (fills uv's and py-rattler's package caches)")
    print(f"  {_verify(envforge, model, home, tmp / 'conda-warmup.json', run, env, False)['seconds']:.2f} s")
    samples: dict[str, list[dict]] = {"conda_lock": [], "conda_cold": [], "conda_from_lock": [], "conda_warm": []}
    for i in range(1, repeat + 1):
        secs, proc = run([envforge, "lock", str(model), "--backend", "conda", "-o", str(lock)], env(ENVFORGE_HOME=str(fresh)))
        if proc.returncode != 0:
            _fail("envforge lock --backend conda", proc)
        shutil.rmtree(home / "envs")  # untimed: an empty env cache, the package caches kept
        round_ = {"conda_lock": {"seconds": secs},
                  "conda_cold": _verify(envforge, model, home, tmp / "conda-cold.json", run, env, False)}
        shutil.rmtree(fresh / "envs", ignore_errors=True)
        round_["conda_from_lock"] = _verify(envforge, model, fresh, tmp / "conda-lock.json", run, env, False, "--lockfile", str(lock))
        round_["conda_warm"] = _verify(envforge, model, home, tmp / "conda-warm.json", run, env, True)
        for name, sample in round_.items():
            samples[name].append(sample)
            print(f"  round {i}/{repeat}  {name:<16} {sample['seconds']:7.2f} s")
    return samples


def ratios(med: dict[str, float]) -> dict[str, float]:
    return {"conda_cold/conda_warm": med["conda_cold"] / med["conda_warm"],
            "conda_from_lock/conda_warm": med["conda_from_lock"] / med["conda_warm"]}
