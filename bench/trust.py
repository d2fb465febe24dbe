"""What issue 29's checks cost: artifact digests and env manifests on every warm verify, and a 200 MB model's first verify.

Usage: nice .venv/bin/python bench/trust.py [--repeat N] [--big-mb 200] [--out FILE]

Saves bench/run.py's iris model, records it (its files' sha256 stored with the expectations), verifies it once
(builds the env and its manifest, untimed), then runs N interleaved rounds of a warm `envforge verify DIR --json F`
(env reused) four ways:
  none     neither check: the expectations without their `artifacts` digests (the verdict is UNVERIFIED, as for an
           older record) and the env's `.envforge-manifest.json` moved away (what verify did before issue 29);
  digests  the model's files hashed and compared with the recorded digests; no env manifest;
  default  both: the digests, and every file the env's manifest lists stat'ed (existence and size);
  check    `--check`: the digests, and every file the manifest lists hashed and compared.
Prints each sample, the medians, digests/none, default/none (target <= 1.03) and check/none (target <= 1.10).

Then the first verify of a model with a --big-mb MB artifact file (random bytes beside model.pkl: recorded,
hashed by record and by verify) against the same model without it, each in a new ENVFORGE_HOME (uv's package
cache warm), with the peak RSS (VmHWM) of the envforge process: the hash streams, so the peaks must not differ
by anything near the file's size. Writes everything to --out.
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
from registry import peak_mb  # noqa: E402  (bench/registry.py, beside this script)
from run import BIN, check, child_env, run, save_model  # noqa: E402  (bench/run.py, beside this script)

MODES = ("none", "digests", "default", "check")
EXPECTATIONS = "envforge-expectations.json"  # modeldir/expectations.py FILENAME
MANIFEST = ".envforge-manifest.json"  # store/env_manifest.py


def sample(mode: str, model_dir: Path, home: Path, report: Path, manifest: Path, aside: Path) -> float:
    expectations = model_dir / EXPECTATIONS
    kept = expectations.read_text()
    if mode in ("none", "digests"):
        shutil.move(str(manifest), str(aside))
    if mode == "none":
        doc = json.loads(kept)
        doc.pop("artifacts", None)
        expectations.write_text(json.dumps(doc))
    try:
        argv = [str(BIN / "envforge"), "verify", str(model_dir), "--json", str(report)] + (["--check"] if mode == "check" else [])
        seconds, proc = run(argv, child_env(ENVFORGE_HOME=str(home)))
        check(proc, f"envforge verify ({mode})")
    finally:
        expectations.write_text(kept)
        if mode in ("none", "digests"):
            shutil.move(str(aside), str(manifest))
    result = json.loads(report.read_text())["results"][0]
    want = "unverified" if mode == "none" else "passed"
    if result["status"] != want or not result["env"]["reused"]:
        sys.exit(f"{mode}: expected a reused env and {want}, got {result['status']} (reused: {result['env']['reused']})")
    if mode != "none" and not result["artifacts"]["verified"]:
        sys.exit(f"{mode}: the model's digests were not checked: {result['artifacts']}")
    return seconds


def warm_rounds(work: Path, repeat: int) -> dict:
    work.mkdir(parents=True)
    model_dir, home, report = work / "iris", work / "home", work / "report.json"
    save_model(model_dir)
    check(subprocess.run([str(BIN / "envforge"), "record", str(model_dir)], capture_output=True, text=True,
                         env=child_env(ENVFORGE_HOME=str(home))), "envforge record")
    run([str(BIN / "envforge"), "verify", str(model_dir), "--json", str(report)], child_env(ENVFORGE_HOME=str(home)))
    env_path = Path(json.loads(report.read_text())["results"][0]["env"]["path"])
    manifest = env_path / MANIFEST
    files = json.loads(manifest.read_text())["files"]
    samples: dict[str, list[float]] = {m: [] for m in MODES}
    for mode in MODES:  # one untimed warm run each: page cache and .pyc files warm for all
        sample(mode, model_dir, home, report, manifest, work / "aside.json")
    for round_ in range(repeat):
        for mode in MODES:
            seconds = sample(mode, model_dir, home, report, manifest, work / "aside.json")
            samples[mode].append(seconds)
            print(f"round {round_ + 1} {mode:<8} {seconds:.3f} s", flush=True)
    med = {m: statistics.median(v) for m, v in samples.items()}
    ratios = {f"{m}/none": med[m] / med["none"] for m in MODES[1:]}
    inproc = in_process(model_dir, env_path, repeat)
    share = {f"{k}/none": 1 + v / med["none"] for k, v in inproc.items()}  # the check alone, on a warm verify's time
    print(f"in-process medians: {json.dumps(inproc)}; as ratios of the warm verify: {json.dumps(share)}", flush=True)
    return {"env_files": len(files), "env_bytes": sum(int(f[1]) for f in files), "samples": samples, "medians": med,
            "ratios": ratios, "targets": {"default/none": ratios["default/none"] <= 1.03, "check/none": ratios["check/none"] <= 1.10},
            "in_process_seconds": inproc, "in_process_ratios": share}


def in_process(model_dir: Path, env_path: Path, repeat: int) -> dict[str, float]:
    """The checks alone, timed in this process (end-to-end samples on a busy machine vary by more than they cost):
    the model's digests (modeldir/digests.py, what verify hashes), the env's default check and its --check."""
    from envforge.modeldir.digests import digest_dir
    from envforge.store.env_check import damage

    timed: dict[str, list[float]] = {"digests": [], "default": [], "check": []}
    for _ in range(repeat):
        for name, call in (("digests", lambda: digest_dir(model_dir)), ("default", lambda: damage(env_path)),
                           ("check", lambda: damage(env_path, check=True))):
            t0 = time.perf_counter()
            assert not isinstance(call(), str), f"{name}: the env is damaged"
            timed[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in timed.items()}
    return {"digests": med["digests"], "default": med["digests"] + med["default"], "check": med["digests"] + med["check"]}


def timed_with_peak(argv: list[str], env: dict[str, str]) -> tuple[float, int, float, str]:
    """(seconds, exit code, peak RSS in MB of that process alone, stderr)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = peak_mb(proc)  # stderr is read after the exit: envforge writes little there with --json
    secs = time.perf_counter() - t0
    return secs, proc.returncode, peak, proc.stderr.read() if proc.stderr else ""


def first_verify(work: Path, big_mb: int) -> dict:
    work.mkdir(parents=True)
    out: dict[str, dict] = {}
    for name, size in (("warmup", 0), ("small", 0), ("big", big_mb)):
        model_dir, home, report = work / f"model-{name}", work / f"home-{name}", work / f"{name}.json"
        save_model(model_dir)
        if size:
            with open(model_dir / "extra.bin", "wb") as handle:  # an artifact file the model does not load
                for _ in range(size):
                    handle.write(os.urandom(1 << 20))
        t0 = time.perf_counter()
        check(subprocess.run([str(BIN / "envforge"), "record", str(model_dir)], capture_output=True, text=True,
                             env=child_env(ENVFORGE_HOME=str(home))), "envforge record")
        record_s = time.perf_counter() - t0
        secs, code, peak, err = timed_with_peak([str(BIN / "envforge"), "verify", str(model_dir), "--json", str(report)],
                                                child_env(ENVFORGE_HOME=str(home)))
        if code != 0:
            sys.exit(f"first verify ({name}) failed (exit {code}): {err[-3000:]}")
        result = json.loads(report.read_text())["results"][0]
        if result["status"] != "passed" or result["env"]["reused"] or not result["artifacts"]["verified"]:
            sys.exit(f"first verify ({name}): expected a new env, PASSED, digests verified: {result['status']} {result['artifacts']}")
        if name != "warmup":  # the warm-up only fills uv's package cache
            out[name] = {"artifact_mb": size, "record_seconds": record_s, "verify_seconds": secs, "verify_peak_rss_mb": peak}
            print(f"first verify {name:<5} ({size} MB extra): record {record_s:.2f} s, verify {secs:.2f} s, "
                  f"peak RSS of envforge {peak:.0f} MB", flush=True)
        shutil.rmtree(home, ignore_errors=True)
    out["ratio"] = {"big/small verify": out["big"]["verify_seconds"] / out["small"]["verify_seconds"],
                    "peak_mb_difference": out["big"]["verify_peak_rss_mb"] - out["small"]["verify_peak_rss_mb"]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--big-mb", type=int, default=200)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="envforge-bench-trust-") as tmp:
        out = {"warm": warm_rounds(Path(tmp) / "warm", args.repeat)}
        print(json.dumps({k: out["warm"][k] for k in ("env_files", "env_bytes", "medians", "ratios", "targets")}, indent=2), flush=True)
        out["first"] = first_verify(Path(tmp) / "first", args.big_mb)
        print(json.dumps(out["first"], indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
