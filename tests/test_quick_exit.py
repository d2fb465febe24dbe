"""envforge/cli/quick_exit.py: the console script exits without the interpreter's teardown, once main() is done,
with main()'s exit code and all of its output (real processes, a real MLflow-logged model)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.models import save_sklearn_model

# The console script's entry point, with an object whose finalizer says when the interpreter's teardown ran.
SCRIPT = """
import sys
from envforge.cli import run


class Teardown:
    def __del__(self):
        sys.stderr.write("TEARDOWN RAN\\n")


marker = Teardown()
run()
"""


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_sklearn_model(tmp_path_factory.mktemp("quick-exit") / "model")


def _envforge(*args: str, home: Path, stdout: int = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ENVFORGE_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-c", SCRIPT, *args], stdout=stdout, stderr=subprocess.PIPE, text=True, env=env, timeout=300)


def test_the_teardown_is_skipped_and_every_line_reaches_a_pipe(model: Path, tmp_path: Path) -> None:
    whole = _envforge("inspect", str(model), home=tmp_path)
    assert whole.returncode == 0, whole.stderr
    assert "TEARDOWN RAN" not in whole.stderr  # os._exit: no module finalization
    assert str(model) in whole.stdout and whole.stdout.endswith("\n")
    # --json writes the document with print(): block-buffered on a pipe, so flushed by the quick exit or lost
    document = _envforge("inspect", str(model), "--json", home=tmp_path)
    assert document.returncode == 0, document.stderr
    assert document.stdout.rstrip().endswith("}") and "TEARDOWN RAN" not in document.stderr


def test_an_error_keeps_its_exit_code(tmp_path: Path) -> None:
    missing = _envforge("inspect", str(tmp_path / "no-such-model"), home=tmp_path)
    assert missing.returncode == 2, missing.stderr
    assert "envforge: error:" in missing.stderr and "TEARDOWN RAN" not in missing.stderr


def test_a_reader_that_went_away_is_exit_1_without_a_traceback(model: Path, tmp_path: Path) -> None:
    read, write = os.pipe()
    os.close(read)  # stdout's reader is gone before envforge prints anything (`envforge ... | head -0`)
    try:
        gone = _envforge("inspect", str(model), home=tmp_path, stdout=write)
    finally:
        os.close(write)
    assert gone.returncode == 1  # rich's answer to a broken pipe, as before the quick exit
    assert "Traceback" not in gone.stderr and "Exception ignored" not in gone.stderr
