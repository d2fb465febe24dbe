"""Warm `envforge verify` with --sandbox on against --sandbox off (issue 13: target <= 1.05x).

Usage: .venv/bin/python bench/sandbox.py [--repeat N]
One iris model, one ENVFORGE_HOME (env built once, untimed), then N interleaved rounds of
`verify --sandbox on` and `verify --sandbox off`; prints the samples, the medians and their ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import check, child_env, run, save_model  # noqa: E402

TARGET = 1.05


def verify(model: Path, home: Path, mode: str) -> float:
    report = home.parent / f"report-{mode}.json"
    seconds, proc = run([sys.executable, "-m", "envforge", "verify", str(model), "--sandbox", mode, "--json", str(report)],
                        child_env(ENVFORGE_HOME=str(home)))
    check(proc, f"verify --sandbox {mode}")
    result = json.loads(report.read_text())["results"][0]
    assert result["env"]["reused"] and result["sandbox"]["network"] is (mode == "off"), result
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="envforge-bench-sandbox-") as tmp:
        model, home = Path(tmp) / "model", Path(tmp) / "home"
        save_model(model)
        check(run([sys.executable, "-m", "envforge", "record", str(model)], child_env(ENVFORGE_HOME=str(home)))[1], "record")
        for mode in ("on", "off"):  # untimed: builds the env (sandboxed first run compiles its bytecode), warms caches
            run([sys.executable, "-m", "envforge", "verify", str(model), "--sandbox", mode], child_env(ENVFORGE_HOME=str(home)))
        samples: dict[str, list[float]] = {"on": [], "off": []}
        for i in range(args.repeat):
            for mode in (("on", "off") if i % 2 == 0 else ("off", "on")):
                samples[mode].append(verify(model, home, mode))
                print(f"round {i + 1} --sandbox {mode}: {samples[mode][-1]:.2f} s", flush=True)
    on, off = statistics.median(samples["on"]), statistics.median(samples["off"])
    ratio = on / off
    print(f"median on {on:.2f} s, off {off:.2f} s, on/off {ratio:.3f} (target <= {TARGET}: {'PASS' if ratio <= TARGET else 'MISS'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
