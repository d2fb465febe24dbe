"""The README's first command: train, log to a local SQLite store, record, verify with uv."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import envforge

pytestmark = pytest.mark.slow


def test_quickstart_runs_the_whole_job(tmp_path: Path, home: Path) -> None:
    store = tmp_path / "qs"
    run = envforge("quickstart", "--dir", str(store), home=home)
    assert run.returncode == 0, run.output
    assert "PASSED models:/envforge-quickstart-iris/1" in run.stdout
    assert (store / "mlflow.db").is_file()
    for step in ("resolve", "build", "predict", "compare"):
        assert step in run.stderr
    again = envforge("quickstart", "--dir", str(store), home=home)
    assert again.returncode == 0, again.output
    assert "PASSED models:/envforge-quickstart-iris/2" in again.stdout and "reused" in again.stdout
