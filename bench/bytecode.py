"""What a first verify's bytecode costs, and which way of paying it is fastest (issue 15, item 2).

Usage: .venv/bin/python bench/bytecode.py [--repeat N] [--cpus 0 0-1] [--out FILE]

For the bench's iris model (bench/run.py's save_model), each round builds a new env from the warm uv
package cache, then runs the first load+predict in it (the runner's work: import mlflow.pyfunc and
scikit-learn, load, predict), under `taskset -c CPUS`, three ways:
  lazy      uv installs no .pyc; the first import compiles what it touches, on one core (envforge today,
            and MLflow's uv env manager);
  compile   `uv pip install --compile-bytecode`: every file of every package, on all the allowed cores,
            during the install; the first import compiles nothing;
  store     envforge's own answer after the first run on a machine: a new env whose .pyc files are linked
            from the bytecode store (store/bytecode.py), filled by the harvest of an earlier env.
Figures: install and first-run seconds, their sum, and each sum's ratio to lazy's, per CPU set.
A machine has only the cores it has: a CPU set wider than `nproc` is not emulated, it is refused.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import BIN, FLOOR_SCRIPT, check, save_model  # noqa: E402  (bench/run.py, beside this script)

MODES = ("lazy", "compile", "store")


def timed(argv: list[str]) -> float:
    """Seconds of one child, which may write .pyc files (envforge's runner gets no PYTHON* variables either)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    check(proc, " ".join(argv[:4]))
    return seconds


def cores(spec: str) -> int:
    count = 0
    for part in spec.split(","):
        low, _, high = part.partition("-")
        count += int(high or low) - int(low) + 1
    return count


def one(mode: str, cpus: str, model_dir: Path, requirements: Path, work: Path, home: Path) -> dict[str, float]:
    """Build one env the `mode` way and time its first load+predict, all under taskset -c cpus."""
    from envforge.store import bytecode

    env_dir = work / f"env-{mode}-{time.monotonic_ns()}"
    pin = ["taskset", "-c", cpus]
    python = getattr(sys, "_base_executable", sys.executable)
    install = timed(pin + [str(BIN / "uv"), "venv", "-q", "--python", python, str(env_dir)])
    extra = ["--compile-bytecode"] if mode == "compile" else []
    install += timed(pin + [str(BIN / "uv"), "pip", "install", "-q", "--python", str(env_dir / "bin" / "python"),
                            "-r", str(requirements), *extra])
    if mode == "store":
        start = time.perf_counter()
        linked = bytecode.seed(env_dir)
        install += time.perf_counter() - start
        if not linked:
            sys.exit("the bytecode store linked no .pyc into the new env: nothing to measure")
    first = timed(pin + [str(env_dir / "bin" / "python"), "-c", FLOOR_SCRIPT, str(model_dir)])
    if mode == "lazy":  # this env's first run compiled what the runner imports: the store's harvest of it
        if not bytecode.harvest(env_dir) and not any(home.glob("bytecode/*/*.pyc")):
            sys.exit("the lazy env's first run left no .pyc for the bytecode store")
    shutil.rmtree(env_dir)
    return {"install": install, "first_run": first, "total": install + first}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cpus", nargs="+", default=["0", "0-1"], help="taskset CPU sets to measure at (default: 0 and 0-1)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "bytecode.json")
    args = ap.parse_args()
    sets = list(args.cpus)
    for cpus in sets:
        if cores(cpus) > (os.cpu_count() or 1):
            sys.exit(f"--cpus {cpus}: this machine has {os.cpu_count()} cores; taskset cannot emulate more")
    work = Path(tempfile.mkdtemp(prefix="envforge-bench-bc-"))
    try:
        model_dir = work / "model"
        save_model(model_dir)
        requirements = model_dir / "requirements.txt"
        home = work / "home"
        os.environ["ENVFORGE_HOME"] = str(home)  # the bytecode store this process harvests into and seeds from
        one("lazy", sets[-1], model_dir, requirements, work, home)  # untimed: warms the uv cache, fills the store
        figures: dict[str, dict[str, dict[str, float]]] = {}
        for cpus in sets:
            samples: dict[str, list[dict[str, float]]] = {m: [] for m in MODES}
            for i in range(args.repeat):  # interleaved, so drift hits every mode alike
                for mode in MODES:
                    samples[mode].append(one(mode, cpus, model_dir, requirements, work, home))
                    s = samples[mode][-1]
                    print(f"cpus {cpus:<5} round {i + 1}/{args.repeat} {mode:<8} install {s['install']:6.2f} s  "
                          f"first run {s['first_run']:6.2f} s  total {s['total']:6.2f} s", flush=True)
            med = {m: {k: statistics.median(x[k] for x in v) for k in ("install", "first_run", "total")} for m, v in samples.items()}
            for mode in MODES:
                med[mode]["total/lazy"] = med[mode]["total"] / med["lazy"]["total"]
            figures[f"cpus {cpus} ({cores(cpus)} core(s))"] = med
        print(f"\n{'cpus':<20} {'mode':<8} {'install':>8} {'first run':>10} {'total':>8} {'total/lazy':>11}")
        for where, med in figures.items():
            for mode in MODES:
                m = med[mode]
                print(f"{where:<20} {mode:<8} {m['install']:8.2f} {m['first_run']:10.2f} {m['total']:8.2f} {m['total/lazy']:11.2f}")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"repeat": args.repeat, "figures": figures}, indent=2))
        print(f"\nwritten: {args.out}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
