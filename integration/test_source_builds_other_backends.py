"""Issue 34, point 3, beyond uv: the virtualenv backend (pip) runs the same dry resolve before installing, so a pin
with no wheel for the interpreter is a verdict in seconds, not a source build past any time limit.

The iris model logged by real MLflow, one extra requirement that exists only as an sdist in a local --find-links
directory, the real CLI with --backend virtualenv.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from tests.support.cli import envforge, report

pytestmark = pytest.mark.slow


def _sdist_only(directory: Path) -> None:
    source = directory / "src" / "ef_nowheel-0.1"
    source.mkdir(parents=True)
    (source / "setup.py").write_text("from setuptools import setup\nsetup(name='ef-nowheel', version='0.1')\n")
    with tarfile.open(directory / "ef_nowheel-0.1.tar.gz", "w:gz") as tar:
        tar.add(source, arcname="ef_nowheel-0.1")


def test_virtualenv_names_the_pin_without_a_wheel_before_pip_builds_it(sklearn_model: Path, home: Path, tmp_path: Path) -> None:
    _sdist_only(tmp_path / "links")
    with (sklearn_model / "requirements.txt").open("a") as handle:
        handle.write("\nef-nowheel==0.1\n")
    run = envforge("verify", str(sklearn_model), "--backend", "virtualenv", "--find-links", str(tmp_path / "links"),
                   "--json", str(tmp_path / "r.json"), home=home)
    assert run.returncode == 3, run.output
    assert "Traceback" not in run.output
    result = report(tmp_path / "r.json")
    assert result["status"] == "error"
    assert "ef-nowheel==0.1" in result["error"]["message"] and "build from source" in result["error"]["message"]
    assert "--allow-source-builds" in run.output
