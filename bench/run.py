"""Benchmark envforge verify against a plain load+predict floor and `mlflow models predict --env-manager uv`.

Usage: .venv/bin/python bench/run.py [--repeat N] [--out bench/results/latest.json]
See bench/README.md for what each measurement means.

envforge is measured as users install it: the dev venv's (full `mlflow` beside envforge, as the quickstart extra
installs it: the unsuffixed figures) and, unless --no-skinny, a venv of envforge's own dependencies (`mlflow-skinny`
only: the `_skinny` figures). Both against the same `mlflow models predict` samples of the same rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent  # the dev venv's bin: envforge, mlflow and uv live here
FLOOR_SCRIPT = (
    "import sys, mlflow.pyfunc; from mlflow.models import Model; d = sys.argv[1]; "
    "ex = Model.load(d).load_input_example(d); print(mlflow.pyfunc.load_model(d).predict(ex))"
)
TARGETS = {"warm/floor": ("<=", 1.1), "mlflow_uv/cold": (">=", 2.5), "mlflow_uv/cold_settled": (">=", 2.5), "warm_skinny/floor": ("<=", 1.1),
           "mlflow_uv/cold_skinny": (">=", 2.5), "cold_fresh_home/first_run_bound": ("<=", 1.1),
           "cold_fresh_home_skinny/first_run_bound": ("<=", 1.1), "warm_registered_full/floor": ("<=", 1.1),
           "warm_registered_skinny/floor": ("<=", 1.1)}


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, COLUMNS="200")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # mlflow's uv env manager runs `uv` from PATH
    env.update(extra)
    return env


def run(argv: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    """Run argv; return (wall-clock seconds, result). Only the child process is timed."""
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    return time.perf_counter() - t0, proc


def check(proc: subprocess.CompletedProcess, what: str) -> None:
    if proc.returncode != 0:
        sys.exit(f"{what} failed (exit {proc.returncode}): {' '.join(proc.args)}\n"
                 f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}")


def save_model(model_dir: Path) -> None:
    import mlflow.sklearn
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    clf = LogisticRegression(max_iter=1000).fit(X, y)
    mlflow.sklearn.save_model(clf, str(model_dir), input_example=X.head(5))


def compile_envforge() -> None:
    """envforge's own modules compiled, as installing its wheel does: a source checkout run with
    PYTHONDONTWRITEBYTECODE set (as on these machines) would otherwise compile them in every timed call."""
    import envforge

    check(run([sys.executable, "-m", "compileall", "-q", str(Path(envforge.__file__).parent)], child_env())[1], "compileall envforge")


def logged_earlier(model_dir: Path, dest: Path, days: int = 3) -> Path:
    """A copy of the model as if logged `days` ago (MLmodel's utc_time_created): the realistic case for a nightly
    or pre-deployment run, whose default --resolve logged cutoff has passed (backends/settled.py applies)."""
    import datetime

    import yaml

    shutil.copytree(model_dir, dest)
    mlmodel = yaml.safe_load((dest / "MLmodel").read_text())
    then = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days)
    mlmodel["utc_time_created"] = then.strftime("%Y-%m-%d %H:%M:%S.%f")
    (dest / "MLmodel").write_text(yaml.safe_dump(mlmodel, sort_keys=False))
    return dest


def verify(model_dir: Path, home: Path, report: Path, envforge: str = str(BIN / "envforge")) -> tuple[float, dict]:
    """Time `envforge verify DIR --json REPORT`; return (seconds, results[0])."""
    secs, proc = run([envforge, "verify", str(model_dir), "--json", str(report)],
                     child_env(ENVFORGE_HOME=str(home)))
    check(proc, "envforge verify")
    result = json.loads(report.read_text())["results"][0]
    if result["status"] != "passed":
        sys.exit(f"envforge verify did not pass: {result['status']}: {result['reason']}")
    return secs, result


def sample_floor(python: str, model_dir: Path) -> dict:
    secs, proc = run([python, "-c", FLOOR_SCRIPT, str(model_dir)], child_env())
    check(proc, "floor (load + predict in the built env)")
    return {"seconds": secs, "output": proc.stdout.strip()}


def bare_env(model_dir: Path, dest: Path, interpreter: str) -> str:
    """The model's packages (for the warm env's Python) in a new env of their own, never run with bytecode written: `floor_uncompiled`'s."""
    uv = str(BIN / "uv")
    check(run([uv, "venv", "--quiet", "--python", interpreter, str(dest)], child_env())[1], "uv venv (bare env)")
    python = str(dest / "bin" / "python")
    check(run([uv, "pip", "install", "--quiet", "--python", python, "-r", str(model_dir / "requirements.txt")], child_env())[1],
          "uv pip install (bare env)")
    return python


def sample_floor_uncompiled(python: str, model_dir: Path) -> dict:
    """The floor in an env that has no .pyc and never gets one: every env module compiled, on one core."""
    secs, proc = run([python, "-c", FLOOR_SCRIPT, str(model_dir)], child_env(PYTHONDONTWRITEBYTECODE="1"))
    check(proc, "floor, nothing compiled (bare env)")
    return {"seconds": secs, "output": proc.stdout.strip()}


def first_run_bound(med: dict[str, float]) -> float:
    """The least a first verify in a new home can take on these cores: a new env of the same files (`cold`,
    nothing to compile) plus the compile (`floor_uncompiled` - `floor`) split perfectly over the cores envforge uses."""
    from envforge.processes.cores import usable_cores

    return med["cold"] + max(0.0, med["floor_uncompiled"] - med["floor"]) / usable_cores()


def sample_verify(model_dir: Path, home: Path, report: Path, want_reused: bool, envforge: str = str(BIN / "envforge")) -> dict:
    secs, result = verify(model_dir, home, report, envforge)
    if result["env"]["reused"] is not want_reused:
        sys.exit(f"expected env.reused={want_reused}, got {result['env']['reused']} ({result['env']['path']})")
    steps = {s["name"]: s["seconds"] for s in result["steps"]}
    return {"seconds": secs, "env_reused": result["env"]["reused"], "steps": steps}


def sample_mlflow(model_dir: Path) -> dict:
    argv = [str(BIN / "mlflow"), "models", "predict", "-m", str(model_dir),
            "-i", str(model_dir / "serving_input_example.json"), "-t", "json", "--env-manager", "uv"]
    secs, proc = run(argv, child_env())
    check(proc, "mlflow models predict --env-manager uv")
    return {"seconds": secs, "output": proc.stdout.strip().splitlines()[-1]}


def ratios(med: dict[str, float]) -> dict[str, float]:
    bound = first_run_bound(med)
    return {"warm/floor": med["warm"] / med["floor"], "mlflow_uv/cold": med["mlflow_uv"] / med["cold"],
            **({"mlflow_uv/cold_settled": med["mlflow_uv"] / med["cold_settled"]} if "cold_settled" in med else {}),
            "mlflow_uv/cold_fresh_home": med["mlflow_uv"] / med["cold_fresh_home"],
            "cold/floor": med["cold"] / med["floor"], "mlflow_uv/warm": med["mlflow_uv"] / med["warm"],
            "mlflow_uv/first_run_bound": med["mlflow_uv"] / bound, "cold_fresh_home/first_run_bound": med["cold_fresh_home"] / bound,
            **({"warm_skinny/floor": med["warm_skinny"] / med["floor"], "mlflow_uv/cold_skinny": med["mlflow_uv"] / med["cold_skinny"],
                "mlflow_uv/cold_fresh_home_skinny": med["mlflow_uv"] / med["cold_fresh_home_skinny"],
                "cold_fresh_home_skinny/first_run_bound": med["cold_fresh_home_skinny"] / bound} if "warm_skinny" in med else {})}


def verdict(name: str, value: float) -> str:
    if name not in TARGETS:
        return ""
    op, target = TARGETS[name]
    ok = value <= target if op == "<=" else value >= target
    return f"target {op} {target}: {'PASS' if ok else 'MISS'}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="samples per measurement (median is reported)")
    ap.add_argument("--out", type=Path, default=Path("bench/results/latest.json"))
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (model, envs)")
    ap.add_argument("--no-skinny", action="store_true", help="measure only the dev venv's envforge (full mlflow), not one with mlflow-skinny only")
    ap.add_argument("--no-warm-registry", action="store_true",
                    help="skip the warm models:/ verify with full mlflow and with mlflow-skinny (bench/warm_registry.py)")
    ap.add_argument("--no-virtualenv", action="store_true", help="skip the virtualenv backend vs MLflow's virtualenv (bench/venv_backend.py)")
    ap.add_argument("--no-conda", action="store_true", help="skip the conda backend on a local channel (bench/conda_backend.py)")
    ap.add_argument("--no-docker", action="store_true", help="skip the docker backend vs MLflow's generated Dockerfile (bench/docker_backend.py)")
    ap.add_argument("--no-registry", action="store_true", help="skip verify-registry vs separate calls vs MLflow (bench/registry.py)")
    ap.add_argument("--registry-sizes", default="12/3", metavar="V/E,...",
                    help="the registry run's sizes: V versions over E environments (default: 12/3; bench/registry.py)")
    ap.add_argument("--registry-mlflow-versions", type=int, default=4, metavar="N",
                    help="versions the registry run times with separate verifies and mlflow, scaled to V (default: 4)")
    ap.add_argument("--no-bisect", action="store_true", help="skip bisect on the numpy-1 model vs one cold verify (bench/asof.py)")
    ap.add_argument("--no-asof-registry", action="store_true",
                    help="skip verify-registry --resolve logged,latest over the corpus vs two runs (bench/asof.py)")
    ap.add_argument("--asof-models", metavar="A,B", help="the corpus models of the --resolve logged,latest registry run (default: all 8)")
    ap.add_argument("--docker-repeat", type=int, default=1, help="rounds of the docker measurements (each builds images; default 1)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="envforge-bench-"))
    model_dir, warm_home, cold_home = tmp / "model", tmp / "home-warm", tmp / "home-cold"
    try:
        print("untimed: compiling envforge's own modules (as a wheel install does)")
        compile_envforge()
        print(f"saving model -> {model_dir}")
        save_model(model_dir)
        earlier, settled_home = logged_earlier(model_dir, tmp / "model-earlier"), tmp / "home-settled"
        for model in (model_dir, earlier):
            check(run([str(BIN / "envforge"), "record", str(model)], child_env(ENVFORGE_HOME=str(warm_home)))[1],
                  "envforge record")

        print("untimed warm-up: envforge verify (builds the warm env, warms the uv package cache)")
        secs, result = verify(model_dir, warm_home, tmp / "warmup.json")
        python = str(Path(result["env"]["path"]) / "bin" / "python")
        print(f"  {secs:.2f} s, env {result['env']['path']} (python {result['env']['python']})")
        print("untimed warm-up: envforge verify with the cold ENVFORGE_HOME (fills its package caches)")
        print(f"  {verify(model_dir, cold_home, tmp / 'warmup-cold.json')[0]:.2f} s")
        print("untimed warm-up: envforge verify of the model logged 3 days ago (its resolution is kept: backends/settled.py)")
        print(f"  {verify(earlier, settled_home, tmp / 'warmup-settled.json')[0]:.2f} s")

        skinny = None
        if not args.no_skinny:
            import warm_registry  # bench/warm_registry.py, beside this script

            print("untimed: envforge in a venv of its own dependencies (mlflow-skinny only), and its warm and cold homes")
            skinny = warm_registry.skinny_envforge(tmp, run, child_env, BIN)
            for home in (tmp / "home-warm-skinny", tmp / "home-cold-skinny"):
                print(f"  {verify(model_dir, home, tmp / 'warmup-skinny.json', skinny)[0]:.2f} s")

        print("untimed: a bare env of the model's packages (for floor_uncompiled)")
        bare_python = bare_env(model_dir, tmp / "bare-env", python)

        samples: dict[str, list[dict]] = {"floor": [], "floor_uncompiled": [], "warm": [], "cold": [], "cold_settled": [],
                                          "cold_fresh_home": [], "mlflow_uv": []}
        if skinny:
            samples.update({"warm_skinny": [], "cold_skinny": [], "cold_fresh_home_skinny": []})
        for i in range(1, args.repeat + 1):  # interleaved rounds, so drift hits every measurement alike
            fresh_home = tmp / f"home-fresh-{i}"
            shutil.rmtree(cold_home / "envs")  # untimed: empty env cache, envforge's package caches kept
            shutil.rmtree(settled_home / "envs")
            if skinny:
                shutil.rmtree(tmp / "home-cold-skinny" / "envs")
            round_ = {
                "floor": sample_floor(python, model_dir),
                "floor_uncompiled": sample_floor_uncompiled(bare_python, model_dir),
                "warm": sample_verify(model_dir, warm_home, tmp / "warm.json", want_reused=True),
                "cold": sample_verify(model_dir, cold_home, tmp / "cold.json", want_reused=False),
                "cold_settled": sample_verify(earlier, settled_home, tmp / "cold-settled.json", want_reused=False),
                "cold_fresh_home": sample_verify(model_dir, fresh_home, tmp / "fresh.json", want_reused=False),
                "mlflow_uv": sample_mlflow(model_dir),
            }
            if skinny:  # the same measurements with envforge beside mlflow-skinny only
                round_["warm_skinny"] = sample_verify(model_dir, tmp / "home-warm-skinny", tmp / "warm.json", True, skinny)
                round_["cold_skinny"] = sample_verify(model_dir, tmp / "home-cold-skinny", tmp / "cold.json", False, skinny)
                round_["cold_fresh_home_skinny"] = sample_verify(model_dir, tmp / f"home-fresh-skinny-{i}", tmp / "fresh.json", False, skinny)
                shutil.rmtree(tmp / f"home-fresh-skinny-{i}")
            shutil.rmtree(fresh_home)  # untimed: keep disk use flat
            for name, s in round_.items():
                samples[name].append(s)
                print(f"  round {i}/{args.repeat}  {name:<16} {s['seconds']:7.2f} s")
            if i == 1:
                print(f"  floor predictions:     {round_['floor']['output']}")
                print(f"  mlflow uv predictions: {round_['mlflow_uv']['output']}")

        if not args.no_warm_registry:
            import warm_registry  # bench/warm_registry.py, beside this script

            samples.update(warm_registry.measure(model_dir, tmp, warm_home, args.repeat, run=run, env=child_env, envforge=str(BIN / "envforge"),
                                                 skinny=skinny))
        if not args.no_virtualenv:
            import venv_backend  # bench/venv_backend.py, beside this script

            samples.update(venv_backend.measure(model_dir, tmp, args.repeat, run=run, env=child_env,
                                                envforge=str(BIN / "envforge"), mlflow=str(BIN / "mlflow")))
        if not args.no_conda:
            import conda_backend  # bench/conda_backend.py, beside this script

            samples.update(conda_backend.measure(tmp, args.repeat, run=run, env=child_env, envforge=str(BIN / "envforge")))
        if not args.no_docker:
            import docker_backend  # bench/docker_backend.py, beside this script

            samples.update(docker_backend.measure(model_dir, tmp, args.docker_repeat, run=run, env=child_env,
                                                  envforge=str(BIN / "envforge"), mlflow=str(BIN / "mlflow")))
        if not args.no_registry:
            import registry  # bench/registry.py, beside this script

            samples.update(registry.measure(tmp, run=run, env=child_env, envforge=str(BIN / "envforge"), mlflow=str(BIN / "mlflow"),
                                            sizes=registry.parse_sizes(args.registry_sizes),
                                            mlflow_versions=args.registry_mlflow_versions))
        if not args.no_bisect or not args.no_asof_registry:
            import asof  # bench/asof.py, beside this script

            if not args.no_bisect:
                samples.update(asof.measure_bisect(tmp, run=run, env=child_env, envforge=str(BIN / "envforge")))
            if not args.no_asof_registry:
                names = tuple(n.strip() for n in args.asof_models.split(",")) if args.asof_models else asof.CORPUS_MODELS
                samples.update(asof.measure_registry(tmp, run=run, env=child_env, envforge=str(BIN / "envforge"), names=names))
        med = {k: statistics.median(s["seconds"] for s in v) for k, v in samples.items()}
        rat = ratios(med)
        if not args.no_warm_registry:
            rat.update(warm_registry.ratios(med))
        if not args.no_conda:
            rat.update(conda_backend.ratios(med))
        if not args.no_virtualenv:
            rat.update(venv_backend.ratios(med, samples))
        if not args.no_docker:
            rat.update(docker_backend.ratios(med, samples))
        if not args.no_registry:
            rat.update(registry.ratios(med, samples))
        if not args.no_bisect or not args.no_asof_registry:
            rat.update(asof.ratios(med, samples))
        names = max(16, *map(len, med))
        print(f"\n{'measurement':<{names}} {'median s':>9}   (n={args.repeat})")
        for k, v in med.items():
            print(f"{k:<{names}} {v:9.2f}")
        width = max(26, *map(len, rat))
        print(f"\n{'ratio':<{width}} {'value':>6}")
        for k, v in rat.items():
            print(f"{k:<{width}} {v:6.2f}   {verdict(k, v)}" if v is not None else f"{k:<{width}}    n/a   (MLflow failed: see samples)")

        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({
            "repeat": args.repeat, "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                                               "python": platform.python_version()},
            "samples": samples, "medians": med, "ratios": rat,
            "targets": {k: {"op": op, "value": t, "pass": verdict(k, rat[k]).endswith("PASS")}
                        for k, (op, t) in TARGETS.items() if k in rat},
        }, indent=2) + "\n")
        print(f"\nwrote {args.out}")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
