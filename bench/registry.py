"""A registry run at several sizes: `verify-registry` against separate `envforge verify` calls and
against `mlflow models predict --env-manager uv` (issue 6's benchmark, sized by issue 15).

    .venv/bin/python bench/registry.py --sizes 12/3,48/3,48/12 [--mlflow-versions 4] [--out F] [--keep]

Also called by bench/run.py last (skip with --no-registry; --registry-sizes, --registry-mlflow-versions).
A size V/E is E registered models of V/E versions each, the E models pinning other exact versions of
threadpoolctl and joblib (E genuinely different resolutions; bench/registry_store.py, which also logs
them fast: one log_model per model, the other versions copies of its files in runs of their own).
Per size, untimed: the registry is logged into its own SQLite store, then one
`verify-registry --record-missing` in another ENVFORGE_HOME stores a baseline with every version
(and warms uv's package cache). Then, timed:

- `registry_grouped_V_E`: one `envforge verify-registry --models 'PREFIX-*' --json F` (default --workers),
  a new empty ENVFORGE_HOME; the peak RSS (VmHWM) of its host process and the peak summed RSS of its
  process tree (runners, installers) are polled from /proc;
- `registry_separate_V_E`: `envforge verify models:/NAME/V` calls in a row on --mlflow-versions of the
  versions (two per model: one builds, one reuses), one new empty ENVFORGE_HOME; scaled to V;
- `registry_mlflow_V_E`: `mlflow models predict -m models:/NAME/V --env-manager uv` on the same versions
  (an env built per call); scaled to V;
- `registry_reused_V_E` and `registry_new_envs_V_E`: the grouped run's next nights in its ENVFORGE_HOME,
  every env reused, then the env cache emptied with the bytecode store kept (new envs, same package files).

The "limit" is what the grouped run's own step timings allow on its workers: the sum over envs of the
build, one runner start (the JSON has none: timed afterwards as `python -I -c "import mlflow.pyfunc"` in
each env it built) and the models' steps (resolve, predict, compare), divided by the number of workers;
or, when longer, the chain the run's one compile makes (registry/pacing.py: the first new env's build, start
and steps, then the other envs' starts and steps, on the workers). The first new env's start is the run's
own (its report's `start_up`: the compile of what it imports, partly ahead of it on the spare core,
execution/pycache.py), the others' timed warm afterwards (they start from the first's bytecode); the
one-core cold start (an empty -X pycache_prefix: every module compiled again) is printed beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from registry_store import extras, log_registry, parse_sizes, peak_mb, timed_with_peak  # noqa: E402  (bench/registry_store.py)

__all__ = ["extras", "parse_sizes", "measure", "ratios", "targets", "summary", "peak_mb"]

Runner = Callable[[list[str], dict[str, str]], tuple[float, subprocess.CompletedProcess]]
EnvMaker = Callable[..., dict[str, str]]
TARGETS = {  # name: (op, value); checked by targets()
    "registry_mlflow_scaled/grouped_12_3": (">=", 15.0),
    "grouped_48_3/grouped_12_3": ("<", 2.0),
    "grouped/limit": ("<=", 1.15),  # issue 33
    "peak_mb": ("<", 300.0),
    "per_version": ("<=", 1.1),  # per_version_BIG_E/per_version_SMALL_E: linear (issue 31)
}


def _check(proc: subprocess.CompletedProcess, what: str) -> None:
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def default_workers() -> int:
    """verify-registry's own default --workers (the cores this process may use), from envforge itself."""
    from envforge.registry.group_runners import default_workers as envforges

    return envforges()


def runner_start(python: Path, cold: bool = True) -> tuple[float | None, float]:
    """`python -I -c "import mlflow.pyfunc"` in a built env, what a runner pays before its first model: (cold,
    warm). Cold compiles every module again (an empty -X pycache_prefix), as in a new ENVFORGE_HOME whose
    bytecode store is empty (only timed for the env that compiled for the rest: None for the others); warm
    reads the .pyc files the run left."""
    argv = [str(python), "-I", "-c", "import mlflow.pyfunc"]
    if not cold:
        t0 = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        return None, time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="pycache-") as empty:
        t0 = time.perf_counter()
        subprocess.run(argv[:2] + ["-X", f"pycache_prefix={empty}"] + argv[2:], capture_output=True, check=True)
        t1 = time.perf_counter()
    subprocess.run(argv, capture_output=True, check=True)
    return t1 - t0, time.perf_counter() - t1


def compiler_env(reg: dict) -> dict:
    """The run's env that compiled for the rest (the others waited for it, or started from its bytecode)."""
    return max((e for e in reg["envs"] if e.get("timing", {}).get("warmup", 0.0) == 0.0),
               key=lambda e: e.get("timing", {}).get("start_up", 0.0))


def grouped_figures(report: dict, secs: float, workers: int, both: dict[str, tuple[float | None, float]]) -> dict:
    """total, per version, per env, and the limit from the run's own step timings (see the module doc);
    both: each env's runner start (cold or None, warm)."""
    results, reg = report["results"], report["registry"]
    compiler = compiler_env(reg)
    first = compiler["key"]
    starts = {key: warm for key, (_cold, warm) in both.items()}
    starts[first] = compiler["timing"]["start_up"]  # its compile, as the run paid it (ahead, on the spare core)
    work, after_build = {}, {}
    for env in reg["envs"]:
        members = [r for r in results if r["env"]["key"] == env["key"]]
        steps = sum(s["seconds"] for r in members for s in r["steps"] if s["name"] != "build")  # build: once, below
        after_build[env["key"]] = starts.get(env["key"], 0.0) + steps
        work[env["key"]] = env["seconds"] + after_build[env["key"]]
    packed = [0.0] * workers  # whole groups, longest first, on the least loaded worker: what groups allow
    for w in sorted(work.values(), reverse=True):
        packed[packed.index(min(packed))] += w
    chain = work[first] + sum(v for k, v in after_build.items() if k != first) / workers
    limit = max(sum(work.values()) / workers, chain)
    return {"seconds": secs, "versions": len(results), "envs": len(reg["envs"]), "workers": workers,
            "per_version": secs / len(results), "per_env": secs / len(reg["envs"]),
            "execute_seconds": reg["seconds"], "outside_execute": secs - reg["seconds"],
            "build_seconds": sum(e["seconds"] for e in reg["envs"]), "runner_starts": sum(starts.values()),
            "model_steps": sum(s["seconds"] for r in results for s in r["steps"] if s["name"] != "build"),
            "first_start": starts[first], "first_start_one_core": both[first][0] if first in both else None,
            "limit": limit, "limit_chain": chain, "limit_whole_groups": max(packed), "grouped/limit": secs / limit,
            "groups_other": sum(e.get("timing", {}).get("other", 0.0) for e in reg["envs"]),
            "groups_harvest": sum(e.get("timing", {}).get("harvest", 0.0) for e in reg["envs"]),
            "groups_warmup": sum(e.get("timing", {}).get("warmup", 0.0) for e in reg["envs"]),
            "groups_queued": sum(e.get("timing", {}).get("queued", 0.0) for e in reg["envs"]),
            "groups_total": sum(e.get("timing", {}).get("total", 0.0) for e in reg["envs"])}


def pick(by_model: dict[str, list[str]], count: int) -> list[str]:
    """`count` URIs, two per model in turn (the second reuses the first's env in a separate-verify home)."""
    pairs = [uris[i:i + 2] for i in range(0, max(len(u) for u in by_model.values()), 2) for uris in by_model.values()]
    return [u for pair in pairs for u in pair][:count]


def measure_size(root: Path, versions: int, envs: int, sample: int, run: Runner, env: EnvMaker,
                 envforge: str, mlflow: str, nightly: bool = True) -> dict[str, dict]:
    tag = f"{versions}_{envs}"
    prefix = f"bench{versions}x{envs}"
    root.mkdir()
    tracking = f"sqlite:///{root / 'mlflow.db'}"
    print(f"registry {versions}/{envs}: logging {versions} model versions over {envs} environments -> {tracking}")
    by_model, logging = log_registry(root, tracking, prefix, versions, envs)
    print(f"  logging (untimed for the runs): {logging['log_model']:.1f} s for {logging['log_model_count']} log_model,"
          f" {logging['copies']:.1f} s for {logging['copies_count']} copied versions"
          f" ({logging['copies'] / max(1, logging['copies_count']) * 1000:.0f} ms each)")
    if sum(len(us) for us in by_model.values()) != versions:
        raise SystemExit(f"logged {sum(len(us) for us in by_model.values())} versions, not {versions}")
    select = ["--tracking-uri", tracking, "--models", f"{prefix}-*"]

    print("  untimed: verify-registry --record-missing (a baseline with every version; warms uv's cache)")
    secs, proc = run([envforge, "verify-registry", *select, "--record-missing", "--json", str(root / "record.json")],
                     env(ENVFORGE_HOME=str(root / "home-record")))
    _check(proc, "envforge verify-registry --record-missing")
    recorded = json.loads((root / "record.json").read_text())
    if len(recorded["results"]) != versions or {r["status"] for r in recorded["results"]} != {"passed"}:
        raise SystemExit(f"--record-missing did not pass all {versions} versions: see {root / 'record.json'}")
    if recorded["registry"]["environments"]["built"] != envs:
        raise SystemExit(f"expected {envs} environments, got {recorded['registry']['environments']}")
    print(f"  {secs:.2f} s")

    workers = default_workers()
    secs, code, peak, tree = timed_with_peak([envforge, "verify-registry", *select, "--json", str(root / "grouped.json")],
                                       env(ENVFORGE_HOME=str(root / "home-grouped")), root)
    if code != 0:
        raise SystemExit(f"envforge verify-registry failed (exit {code}): see {root / 'grouped.out'}, {root / 'grouped.err'}")
    report = json.loads((root / "grouped.json").read_text())
    if len(report["results"]) != versions or {r["status"] for r in report["results"]} != {"passed"}:
        raise SystemExit(f"verify-registry did not pass all {versions} versions: see {root / 'grouped.json'}")
    paths = {r["env"]["key"]: Path(r["env"]["path"]) / "bin" / "python" for r in report["results"]}
    first = compiler_env(report["registry"])["key"]
    both = {key: runner_start(python, cold=key == first) for key, python in paths.items()}  # untimed for the run: after it
    grouped = dict(grouped_figures(report, secs, workers, both), peak_mb=peak, tree_peak_mb=tree, logging=logging,
                   runner_starts_warm=sum(warm for _, warm in both.values()),
                   builds=report["registry"]["environments"]["built"], report_bytes=(root / "grouped.json").stat().st_size)
    nights = nightly_runs(select, root, run, env, envforge, versions) if nightly else {}

    chosen = pick(by_model, min(sample, versions))
    calls = []
    for i, uri in enumerate(chosen):
        secs, proc = run([envforge, "verify", uri, "--tracking-uri", tracking, "--json", str(root / f"sep-{i}.json")],
                         env(ENVFORGE_HOME=str(root / "home-separate")))
        _check(proc, f"envforge verify {uri}")
        result = json.loads((root / f"sep-{i}.json").read_text())["results"][0]
        if result["status"] != "passed":
            raise SystemExit(f"envforge verify {uri}: {result['status']}: {result['reason']}")
        calls.append({"uri": uri, "seconds": secs, "env_reused": bool(result["env"]["reused"])})
    built = [c["seconds"] for c in calls if not c["env_reused"]]
    reused = [c["seconds"] for c in calls if c["env_reused"]]
    measured = sum(c["seconds"] for c in calls)
    if built and reused:  # a separate run of all V builds E envs and reuses them V - E times
        scaled, how = sum(built) / len(built) * envs + sum(reused) / len(reused) * (versions - envs), "per kind"
    else:
        scaled, how = measured * versions / len(calls), "linear"
    separate = {"seconds": scaled, "scaled": how, "measured_seconds": measured, "measured_calls": len(calls),
                "calls": calls}

    example = root / "serving_input.json"
    import mlflow as mlflow_mod

    mlflow_mod.set_tracking_uri(tracking)
    local = mlflow_mod.artifacts.download_artifacts(artifact_uri=chosen[0], dst_path=str(root / "example-model"))
    example.write_text((Path(local) / "serving_input_example.json").read_text())
    calls = []
    for uri in chosen:
        secs, proc = run([mlflow, "models", "predict", "-m", uri, "-i", str(example), "-t", "json", "--env-manager", "uv"],
                         env(MLFLOW_TRACKING_URI=tracking))
        _check(proc, f"mlflow models predict {uri}")
        calls.append({"uri": uri, "seconds": secs})
    measured = sum(c["seconds"] for c in calls)
    mlflow_row = {"seconds": measured * versions / len(calls), "scaled": "linear", "measured_seconds": measured,
                  "measured_calls": len(calls), "calls": calls}

    g = grouped
    print(f"  registry_grouped_{tag:<6} {g['seconds']:8.2f} s  ({g['per_version']:.2f} s/version, {g['per_env']:.2f} s/env,"
          f" host peak {g['peak_mb']:.0f} MB, process tree peak {g['tree_peak_mb']:.0f} MB)")
    print(f"    {g['builds']} builds, {g['envs']} runners (groups) for {g['versions']} versions; JSON report"
          f" {g['report_bytes'] / 1024:.0f} KiB ({g['report_bytes'] / g['versions']:.0f} bytes/version);"
          f" grouped/limit {g['grouped/limit']:.2f}")
    print(f"    limit {g['limit']:.2f} s = (builds {g['build_seconds']:.2f} + runner starts {g['runner_starts']:.2f}"
          f" + model steps {g['model_steps']:.2f}) / {workers} workers, or the one compile's chain {g['limit_chain']:.2f} s;"
          f" whole groups: {g['limit_whole_groups']:.2f} s;"
          f" outside execute (start, selection, plan downloads, reports): {g['outside_execute']:.2f} s;"
          f" the compiling env's start {g['first_start']:.2f} s in the run"
          f" (one core, nothing ahead: {g['first_start_one_core'] or 0.0:.2f} s)")
    print(f"    the groups' own clocks: total {g['groups_total']:.2f} s, of which bytecode harvest {g['groups_harvest']:.2f} s,"
          f" new envs waiting for the first one's compile {g['groups_warmup']:.2f} s,"
          f" waiting for a build or run slot {g['groups_queued']:.2f} s"
          f" and other (expectations, judging) {g['groups_other']:.2f} s")
    print(f"  registry_separate_{tag:<5} {separate['seconds']:8.2f} s  scaled {how} from {separate['measured_calls']}"
          f" calls ({separate['measured_seconds']:.2f} s, {len(reused)} reused an env)")
    print(f"  registry_mlflow_{tag:<7} {mlflow_row['seconds']:8.2f} s  scaled linear from {mlflow_row['measured_calls']}"
          f" calls ({mlflow_row['measured_seconds']:.2f} s)")
    for kind, row in nights.items():
        print(f"  registry_{kind}_{tag:<6} {row['seconds']:8.2f} s  ({row['what']}; mlflow scaled / this:"
              f" {mlflow_row['seconds'] / row['seconds']:.2f})")
    return {f"registry_grouped_{tag}": grouped, f"registry_separate_{tag}": separate, f"registry_mlflow_{tag}": mlflow_row,
            **{f"registry_{kind}_{tag}": row for kind, row in nights.items()}}


def nightly_runs(select: list[str], root: Path, run: Runner, env: EnvMaker, envforge: str, versions: int) -> dict[str, dict]:
    """The next nights of the grouped run's ENVFORGE_HOME: `reused` (the same versions: every env from the
    cache) and `new_envs` (the env cache emptied, the bytecode store kept: new envs of the same package
    files, as new versions with changed pins bring)."""
    home = root / "home-grouped"
    rows = {}
    for kind, what in (("reused", "the next night: every env reused"),
                       ("new_envs", "env cache emptied, bytecode store kept")):
        if kind == "new_envs":
            shutil.rmtree(home / "envs")
        secs, proc = run([envforge, "verify-registry", *select, "--json", str(root / f"{kind}.json")],
                         env(ENVFORGE_HOME=str(home)))
        _check(proc, f"envforge verify-registry ({kind})")
        report = json.loads((root / f"{kind}.json").read_text())
        if len(report["results"]) != versions or {r["status"] for r in report["results"]} != {"passed"}:
            raise SystemExit(f"verify-registry ({kind}) did not pass all {versions} versions: see {root / f'{kind}.json'}")
        rows[kind] = {"seconds": secs, "what": what, "environments": report["registry"]["environments"],
                      "timing": [e.get("timing") for e in report["registry"]["envs"]]}
    return rows


def measure(tmp: Path, run: Runner, env: EnvMaker, envforge: str, mlflow: str, sizes: list[tuple[int, int]] | None = None,
            mlflow_versions: int = 4, nightly: bool = True) -> dict[str, list[dict]]:
    """Every size; returns samples as bench/run.py keeps them (name -> [one sample])."""
    samples: dict[str, list[dict]] = {}
    for versions, envs in sizes or [(12, 3)]:
        for name, row in measure_size(tmp / f"registry-{versions}-{envs}", versions, envs, mlflow_versions,
                                      run, env, envforge, mlflow, nightly).items():
            samples[name] = [row]
    for line in summary(samples):
        print(line)
    return samples


def _sizes(samples: dict[str, list[dict]]) -> list[str]:
    return [k.removeprefix("registry_grouped_") for k in samples if k.startswith("registry_grouped_")]


def ratios(med: dict[str, float], samples: dict[str, list[dict]] | None = None) -> dict[str, float]:
    out = {}
    for tag in _sizes(samples or {k: [] for k in med}):
        grouped = med[f"registry_grouped_{tag}"]
        out[f"registry_mlflow_scaled/grouped_{tag}"] = med[f"registry_mlflow_{tag}"] / grouped
        out[f"registry_separate_scaled/grouped_{tag}"] = med[f"registry_separate_{tag}"] / grouped
        if samples:
            out[f"grouped/limit_{tag}"] = samples[f"registry_grouped_{tag}"][0]["grouped/limit"]
        for kind in ("reused", "new_envs"):
            if f"registry_{kind}_{tag}" in med:
                out[f"registry_mlflow_scaled/{kind}_{tag}"] = med[f"registry_mlflow_{tag}"] / med[f"registry_{kind}_{tag}"]
    if "registry_grouped_48_3" in med and "registry_grouped_12_3" in med:
        out["grouped_48_3/grouped_12_3"] = med["registry_grouped_48_3"] / med["registry_grouped_12_3"]
    out.update(linearity(med))
    return out


def linearity(med: dict[str, float]) -> dict[str, float]:
    """For two sizes of the same E (V small < V big): seconds per version at the big size over the small one's
    (linear, or better as the E builds are shared by more versions: <= 1), and the marginal seconds of each
    version the big size adds over the small size's own seconds per version."""
    sizes = sorted(tuple(int(x) for x in k.removeprefix("registry_grouped_").split("_")) for k in med
                   if k.startswith("registry_grouped_"))
    out = {}
    for v_small, e in sizes:
        for v_big, e_big in sizes:
            if e_big == e and v_big > v_small:
                small, big = med[f"registry_grouped_{v_small}_{e}"], med[f"registry_grouped_{v_big}_{e}"]
                out[f"per_version_{v_big}_{e}/per_version_{v_small}_{e}"] = (big / v_big) / (small / v_small)
                out[f"marginal_{v_big}_{e}/per_version_{v_small}_{e}"] = ((big - small) / (v_big - v_small)) / (small / v_small)
    return out


def targets(samples: dict[str, list[dict]]) -> list[tuple[str, float, str, float, bool]]:
    """(figure, value, op, target, passed) for every target the measured sizes allow."""
    med = {k: v[0]["seconds"] for k, v in samples.items()}
    rat = ratios(med, samples)
    rows = []
    for name, value in rat.items():
        base = re.sub(r"_\d+_\d+$", "", name) if name.startswith("grouped/limit") else name
        base = "per_version" if name.startswith("per_version_") else base
        if base in TARGETS:
            rows.append((name, value, *TARGETS[base]))
    for tag in _sizes(samples):
        rows.append((f"peak_mb_{tag}", samples[f"registry_grouped_{tag}"][0]["peak_mb"], *TARGETS["peak_mb"]))
    return [(n, v, op, t, v >= t if op == ">=" else v < t if op == "<" else v <= t) for n, v, op, t in rows]


def summary(samples: dict[str, list[dict]]) -> list[str]:
    med = {k: v[0]["seconds"] for k, v in samples.items()}
    lines = [f"\n{'registry ratio':<42} {'value':>7}"]
    checked = {n: (op, t, ok) for n, _, op, t, ok in targets(samples)}
    for name, value in ratios(med, samples).items():
        verdict = f"   target {checked[name][0]} {checked[name][1]}: {'PASS' if checked[name][2] else 'MISS'}" if name in checked else ""
        lines.append(f"{name:<42} {value:7.2f}{verdict}")
    for name, value, op, target, ok in targets(samples):
        if name.startswith("peak_mb"):
            tree = samples[f"registry_grouped_{name.removeprefix('peak_mb_')}"][0].get("tree_peak_mb")
            lines.append(f"{name:<42} {value:7.1f}   target {op} {target:g} MB: {'PASS' if ok else 'MISS'}"
                         + (f"   (process tree: {tree:.0f} MB)" if tree is not None else ""))
    if not any(n.startswith("grouped_48_3/") for n in checked):
        lines.append("grouped_48_3/grouped_12_3: not measured (needs both sizes 12/3 and 48/3)")
    return lines


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import run as bench  # bench/run.py: child_env, run, BIN (the dev venv's bin)

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="12/3,48/3,48/12", help="V/E,...: V versions over E environments (default: %(default)s)")
    ap.add_argument("--mlflow-versions", type=int, default=4,
                    help="versions measured with separate verifies and with mlflow, scaled to V (default: %(default)s)")
    ap.add_argument("--out", type=Path, default=Path("bench/results/registry.json"))
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (registries, homes, reports)")
    ap.add_argument("--no-nightly", action="store_true", help="skip the reused and new_envs runs after each grouped run")
    args = ap.parse_args()
    sizes = parse_sizes(args.sizes)
    if args.mlflow_versions < 1:
        raise SystemExit("--mlflow-versions must be at least 1")

    tmp = Path(tempfile.mkdtemp(prefix="envforge-bench-registry-"))
    try:
        samples = measure(tmp, run=bench.run, env=bench.child_env, envforge=str(bench.BIN / "envforge"),
                          mlflow=str(bench.BIN / "mlflow"), sizes=sizes, mlflow_versions=args.mlflow_versions,
                          nightly=not args.no_nightly)
        med = {k: v[0]["seconds"] for k, v in samples.items()}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({
            "sizes": args.sizes, "mlflow_versions": args.mlflow_versions, "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                                                                                     "python": platform.python_version()},
            "samples": samples, "ratios": ratios(med, samples),
            "targets": {n: {"value": v, "op": op, "target": t, "pass": ok} for n, v, op, t, ok in targets(samples)},
        }, indent=2) + "\n")
        print(f"\nwrote {args.out}")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
