"""What checking a cached env against its manifest costs a warm verify (issue 29, item 3).

Usage: .venv/bin/python bench/env_check.py [--repeat N] [--out FILE]

Saves bench/run.py's iris model, records it, verifies it once (builds the env and its manifest, untimed), then
runs N interleaved rounds of a warm `envforge verify DIR --json F` (env reused, checked) three ways:
  none     the env's `.envforge-manifest.json` moved away: nothing to check (what verify did before manifests);
  default  the manifest in place: every listed file's existence and size (one stat each);
  check    `--check`: every listed file hashed and compared.
Prints each sample, the medians, default/none (target <= 1.03) and check/none (target <= 1.10), and the
manifest's size; writes them to --out.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import BIN, check, child_env, run, save_model  # noqa: E402  (bench/run.py, beside this script)

MODES = ("none", "default", "check")


def sample(mode: str, model_dir: Path, home: Path, report: Path, manifest: Path, aside: Path) -> float:
    if mode == "none":
        shutil.move(str(manifest), str(aside))
    try:
        argv = [str(BIN / "envforge"), "verify", str(model_dir), "--json", str(report)] + (["--check"] if mode == "check" else [])
        seconds, proc = run(argv, child_env(ENVFORGE_HOME=str(home)))
        check(proc, f"envforge verify ({mode})")
    finally:
        if mode == "none":
            shutil.move(str(aside), str(manifest))
    result = json.loads(report.read_text())["results"][0]
    if result["status"] != "passed" or not result["env"]["reused"]:
        sys.exit(f"{mode}: expected a reused env and PASSED, got {result['status']} (reused: {result['env']['reused']})")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="envforge-bench-envcheck-") as tmp:
        work = Path(tmp)
        model_dir, home, report = work / "iris", work / "home", work / "report.json"
        save_model(model_dir)
        check(subprocess.run([str(BIN / "envforge"), "record", str(model_dir)], capture_output=True, text=True,
                             env=child_env(ENVFORGE_HOME=str(home))), "envforge record")
        run([str(BIN / "envforge"), "verify", str(model_dir), "--json", str(report)], child_env(ENVFORGE_HOME=str(home)))
        env_path = Path(json.loads(report.read_text())["results"][0]["env"]["path"])
        manifest = env_path / ".envforge-manifest.json"
        files = json.loads(manifest.read_text())["files"]
        samples: dict[str, list[float]] = {m: [] for m in MODES}
        for mode in MODES:  # one untimed warm run each: page cache and .pyc files warm for all three
            sample(mode, model_dir, home, report, manifest, work / "aside.json")
        for round_ in range(args.repeat):
            for mode in MODES:
                seconds = sample(mode, model_dir, home, report, manifest, work / "aside.json")
                samples[mode].append(seconds)
                print(f"round {round_ + 1} {mode:<8} {seconds:.3f} s", flush=True)
        med = {m: statistics.median(v) for m, v in samples.items()}
        ratios = {"default/none": med["default"] / med["none"], "check/none": med["check"] / med["none"]}
        out = {"files": len(files), "bytes": sum(int(f[1]) for f in files), "samples": samples, "medians": med, "ratios": ratios,
               "targets": {"default/none": ratios["default/none"] <= 1.03, "check/none": ratios["check/none"] <= 1.10}}
        print(json.dumps({k: out[k] for k in ("files", "bytes", "medians", "ratios", "targets")}, indent=2))
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
