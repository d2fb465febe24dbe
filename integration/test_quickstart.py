"""The README's first command: train, log to a local SQLite store, record, verify with uv."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest

from tests.support.cli import CliRun, envforge, start_envforge

pytestmark = pytest.mark.slow


def test_quickstart_runs_the_whole_job(tmp_path: Path, home: Path) -> None:
    store = tmp_path / "qs"
    started = time.monotonic()
    proc = start_envforge("quickstart", "--dir", str(store), home=home)
    assert proc.stderr is not None
    first = proc.stderr.readline()
    first_seconds = time.monotonic() - started
    # the rest read through the same buffered stream: communicate() reads the descriptor, and would lose what
    # readline() already buffered (the next line, when both arrived in one chunk)
    rest: list[str] = []
    reader = threading.Thread(target=lambda: rest.append(proc.stderr.read()))
    reader.start()
    stdout = proc.stdout.read()
    proc.wait(timeout=1800)
    reader.join()
    run = CliRun(proc.returncode, stdout, first + rest[0])
    assert run.returncode == 0, run.output
    # Issue 30, point 6: progress from the first second (not ~29 s of silence), every step timed, MLflow kept out
    assert first.startswith("envforge quickstart") and first_seconds < 15, (first, first_seconds)
    assert "training a scikit-learn iris model" in run.stderr.splitlines()[1]
    assert "PASSED models:/envforge-quickstart-iris/1" in run.stdout
    # the expectations record stored with the model are in the cached download as on the server: not "altered"
    assert "downloaded again" not in run.output and "added to the cached download" not in run.output, run.output
    assert (store / "mlflow.db").is_file()
    for step in ("log", "record", "resolve", "build", "predict", "compare"):
        assert re.search(rf"^  {step} +\d+\.\d\d s", run.stderr, re.M), (step, run.stderr)
    assert "quickstart done in" in run.stderr
    assert "Successfully registered model" not in run.output and "Created version" not in run.output
    (requirements,) = store.rglob("requirements.txt")
    names = {line.split("==")[0].strip().lower() for line in requirements.read_text().splitlines() if line.strip()}
    assert names == {"mlflow", "scikit-learn", "numpy", "scipy", "pandas", "cloudpickle"}, names  # none of envforge's own (rich, …)
    again = envforge("quickstart", "--dir", str(store), home=home)
    assert again.returncode == 0, again.output
    assert "PASSED models:/envforge-quickstart-iris/2" in again.stdout and "reused" in again.stdout
