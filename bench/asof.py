"""Issue 12's benchmark: `envforge bisect` on the numpy-1 model that numpy 2 breaks, and
`verify-registry --resolve logged,latest` over shared corpus models against two separate runs.

Called by bench/run.py (skip with --no-bisect and --no-asof-registry).

- `bisect`: `envforge bisect DIR --json F` on a copy of integration/test_resolve_asof.py's model
  (scikit-learn 1.3.0 logged "2024-03-01", requirements `mlflow`, `scikit-learn==1.3.0`, `numpy`), in a new
  empty ENVFORGE_HOME, uv's cache warm; its JSON gives the number of builds. `bisect_cold_verify`: one
  `envforge verify DIR` (as logged) in another new empty home. Ratio `bisect/bisect_cold_verify`.
- `asof_registry_both`: `envforge verify-registry --resolve logged,latest --json F` over the corpus models,
  registered from copies in a local registry (SQLite, artifacts in the temp dir), a new empty ENVFORGE_HOME;
  `asof_registry_separate`: `--resolve logged` then `--resolve latest`, two runs sharing one new empty home
  (as two nightly jobs on one machine would). An untimed `--resolve logged,latest` run first warms uv's
  cache. Ratio `asof_registry_separate/asof_registry_both`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
Runner = Callable[[list[str], dict[str, str]], tuple[float, subprocess.CompletedProcess]]
EnvMaker = Callable[..., dict[str, str]]
CORPUS_MODELS = ("akhil-sklearn-mlf127", "aryan-sklearn-serving", "boisalai-xgboost", "ekorczak-pyfunc-mlf3",
                 "hakymulla-lightgbm", "talha-sklearn-condaonly", "tsazure-pytorch", "vnb-statsmodels")


def _numpy1_model() -> Path:
    """The cached numpy-1 model of the integration tests (built there once per machine, a few minutes)."""
    for path in (str(ROOT), str(ROOT / "integration")):
        if path not in sys.path:
            sys.path.insert(0, path)
    import test_resolve_asof as t  # integration/test_resolve_asof.py: the model and how it is logged

    from tests.support.cache import cached_dir, digest

    name = f"numpy1-sklearn-py{t.PY311}-{digest(*t.LOGGER_PINS, *t.REQUIREMENTS, t.LOGGED_AT, t.LOG)}"
    return cached_dir(name, t._build_logger) / "model"


def measure_bisect(tmp: Path, run: Runner, env: EnvMaker, envforge: str) -> dict[str, list[dict]]:
    root = tmp / "bisect"
    root.mkdir()
    model = Path(shutil.copytree(_numpy1_model(), root / "model"))
    (model / "envforge-expectations.json").unlink(missing_ok=True)
    secs, proc = run([envforge, "verify", str(model), "--json", str(root / "v.json")], env(ENVFORGE_HOME=str(root / "home-v")))
    verified = json.loads((root / "v.json").read_text())["results"][0]
    if proc.returncode != 0 or verified["env"]["reused"]:
        raise SystemExit(f"the cold verify failed or reused an env: {verified['status']}: {verified['reason']}")
    cold = {"seconds": secs, "status": verified["status"], "steps": {s["name"]: s["seconds"] for s in verified["steps"]}}
    print(f"  bisect_cold_verify {secs:7.2f} s")
    secs, proc = run([envforge, "bisect", str(model), "--json", str(root / "b.json")], env(ENVFORGE_HOME=str(root / "home-b")))
    found = json.loads((root / "b.json").read_text())
    if found.get("verdict") != "culprit" or (found.get("culprit") or {}).get("package") != "numpy":
        raise SystemExit(f"bisect did not name numpy (exit {proc.returncode}): {found.get('message')}")
    bisect = {"seconds": secs, "builds": found["builds"], "steps": len(found["steps"]), "message": found["message"]}
    print(f"  bisect             {secs:7.2f} s  ({found['builds']} builds, {len(found['steps'])} steps): {found['message']}")
    return {"bisect": [bisect], "bisect_cold_verify": [cold]}


def _register(root: Path, names: tuple[str, ...]) -> str:
    from tests.support.corpus import corpus_copy
    from tests.support.register import register_dir

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    tracking = f"sqlite:///{root / 'mlflow.db'}"
    for name in names:
        register_dir(tracking, f"corpus-{name}", corpus_copy(name, root / "copies"), artifacts=root / "artifacts")
    return tracking


def _registry(run: Runner, env: EnvMaker, envforge: str, tracking: str, resolve: str, home: Path, report: Path) -> tuple[float, dict]:
    secs, proc = run([envforge, "verify-registry", "--tracking-uri", tracking, "--models", "corpus-*", "--workers", "2",
                      "--resolve", resolve, "--json", str(report)], env(ENVFORGE_HOME=str(home)))
    if proc.returncode not in (0, 1) or not report.is_file():
        raise SystemExit(f"verify-registry --resolve {resolve} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return secs, json.loads(report.read_text())["registry"]


def measure_registry(tmp: Path, run: Runner, env: EnvMaker, envforge: str, names: tuple[str, ...] = CORPUS_MODELS) -> dict[str, list[dict]]:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    root = tmp / "asof-registry"
    root.mkdir()
    tracking = _register(root, names)
    print(f"asof registry: {len(names)} corpus models -> {tracking}; untimed warm-up (uv's cache)")
    secs, _ = _registry(run, env, envforge, tracking, "logged,latest", root / "home-warm", root / "warm.json")
    print(f"  warm-up            {secs:7.2f} s")
    secs, section = _registry(run, env, envforge, tracking, "logged,latest", root / "home-both", root / "both.json")
    both = {"seconds": secs, "versions": len(names), "verdicts": {v["label"]: v["text"] for v in section.get("verdicts", [])},
            "environments": [r["environments"] for r in section.get("resolutions", [])]}
    print(f"  asof_registry_both     {secs:7.2f} s")
    for label, text in both["verdicts"].items():
        print(f"    {label}: {text}")
    logged, _ = _registry(run, env, envforge, tracking, "logged", root / "home-separate", root / "logged.json")
    latest, _ = _registry(run, env, envforge, tracking, "latest", root / "home-separate", root / "latest.json")
    print(f"  asof_registry_separate {logged + latest:7.2f} s  (logged {logged:.2f} s + latest {latest:.2f} s)")
    return {"asof_registry_both": [both], "asof_registry_separate": [{"seconds": logged + latest, "logged": logged, "latest": latest}]}


def ratios(med: dict[str, float], samples: dict[str, list[dict]]) -> dict[str, float]:
    out = {}
    if "bisect" in med:
        out["bisect/bisect_cold_verify"] = med["bisect"] / med["bisect_cold_verify"]
        out["bisect_builds"] = float(samples["bisect"][0]["builds"])
    if "asof_registry_both" in med:
        out["asof_registry_separate/asof_registry_both"] = med["asof_registry_separate"] / med["asof_registry_both"]
    return out
