"""Say up front what the test suite needs from this machine that it lacks, and which tests that affects.

Run by scripts/test.sh before pytest. Interpreters: the suite uses whatever CPython of each minor version the
machine has (pyenv's, uv-managed or on PATH; tests/support/machine.py); where one is missing this tries uv's
managed builds (`uv python install`, which needs the network to reach them) and, if that fails too, names the
tests that will skip. It never fails the run: the skips say the same thing where they happen.
"""

from __future__ import annotations

import subprocess
import sys

import uv

from envforge.interpreters import discover

# minor version -> the tests that need an interpreter of it
NEEDS = {
    "3.6": "integration/test_virtualenv_backend.py (an interpreter too old for virtualenv; pyenv only)",
    "3.8": "integration/test_old_models.py (a model logged by MLflow 1.19)",
    "3.9": "integration/test_foreign_pythons.py (MLflow 2.22 logger)",
    "3.10": "integration/test_foreign_pythons.py (MLflow 3.3 logger)",
    "3.11": "integration/test_resolve_asof.py, test_baselines.py (the numpy-1 logger)",
    "3.12": "integration/test_foreign_pythons.py (MLflow 3.17 logger)",
}


def _minors() -> dict[str, str]:
    found: dict[str, str] = {}
    for interpreter in discover():
        found.setdefault(".".join(interpreter.version.split(".")[:2]), f"{interpreter.version} ({interpreter.source})")
    return found


def main() -> int:
    found = _minors()
    missing = [minor for minor in NEEDS if minor not in found]
    if missing:
        done = subprocess.run([uv.find_uv_bin(), "python", "install", *missing], capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            print(f"check-machine: `uv python install {' '.join(missing)}` failed: "
                  f"{(done.stderr.strip().splitlines() or ['?'])[-1]}", file=sys.stderr)
        found = _minors()
    print("check-machine: interpreters " + ", ".join(f"{m}: {v}" for m, v in sorted(found.items(), key=lambda kv: tuple(map(int, kv[0].split("."))))),
          file=sys.stderr)
    for minor in NEEDS:
        if minor not in found:
            print(f"check-machine: MISSING CPython {minor}: {NEEDS[minor]} will skip "
                  f"(`uv python install {minor}` or `pyenv install {minor}` provides it)", file=sys.stderr)
    _conda_channel_python()
    return 0


def _conda_channel_python() -> None:
    """The conda tests' channel repackages a self-contained CPython of the test venv's minor (tests/support/conda_channel.py)."""
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.support.conda_channel import python_source

    try:
        prefix, version, _ = python_source()
    except RuntimeError as err:
        print(f"check-machine: the conda tests (-m conda) will fail: {err}", file=sys.stderr)
        return
    print(f"check-machine: the conda test channel packages CPython {version} from {prefix}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
