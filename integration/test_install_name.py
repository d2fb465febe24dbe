"""Issue 30, point 2: the README's install line installs this project, not the package index's unrelated `envforge`.

The distribution is `envforge-mlflow` (the import name and the `envforge` command stay). Every install line of the
README, the docs and the CI templates names it; and the README's line, run against a local PEP 503 index that holds
only this repository's wheel, installs this project: its metadata, its modules, its `envforge --version`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from envforge.version import __version__
from tests.support import pep503

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DIST = "envforge-mlflow"
# `uv tool install X`, `pipx install X`, `pip install 'X[extra]'`, a CI template's `default: X`
INSTALL = re.compile(r"(?:uv tool install|pipx install|pip install|uv pip install)\s+(?:-[-\w]+\s+)*['\"]?([A-Za-z][\w.-]*)")


def _readme_line() -> str:
    """The README's first install line: the first code block's first line."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("```", 2)[1].split("\n", 1)[1]
    line = block.splitlines()[0].split("#", 1)[0].strip()
    assert line.startswith(("uv tool install ", "pipx install ")), line
    return line


def test_the_distribution_is_ours_and_every_install_line_names_it() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.findall(r'^name = "(.+)"$', pyproject, re.M) == [DIST]
    assert 'envforge = "envforge.cli:run"' in pyproject  # the command keeps its name
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "action.yml", *sorted((ROOT / "ci").iterdir()),
             *sorted((ROOT / "envforge").rglob("*.py"))]
    named = [(f.name, m.group(1)) for f in files for m in INSTALL.finditer(f.read_text()) if m.group(1).lower().startswith("envforge")]
    assert named, "no install line found"
    assert {name for _, name in named} == {DIST}, [n for n in named if n[1] != DIST]
    assert "default: envforge-mlflow" in (ROOT / "ci" / "envforge.gitlab-ci.yml").read_text()
    assert _readme_line().split()[-1] == DIST


def _uv() -> str:
    beside = Path(sys.executable).parent / "uv"
    found = str(beside) if beside.exists() else shutil.which("uv")
    assert found, "no uv: it is one of envforge's dependencies"
    return found


def test_the_readme_install_line_against_a_local_index_installs_this_project(tmp_path: Path) -> None:
    built = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"), str(ROOT)],
                           capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    assert wheel.name == f"envforge_mlflow-{__version__}-py3-none-any.whl"
    uv, venv = _uv(), tmp_path / "venv"
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    # The dependencies come from this test environment (no network): a .pth after the new venv's own site-packages.
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "zz-test-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    line = _readme_line()
    name = line.split()[-1]
    with pep503.serve(tmp_path / "index", [wheel]) as index:
        # The README's line, as uv's pip interface runs it, from that index only; dependencies are the test env's.
        run = subprocess.run([uv, "pip", "install", "--python", str(python), "--index-url", index.simple, "--no-deps", name],
                             capture_output=True, text=True, timeout=600, env={**os.environ, "UV_NO_CACHE": "1"})
        assert run.returncode == 0, run.stderr
        assert f"/simple/{name}/" in index.requests() and wheel.name in index.requests()
    meta = subprocess.run([str(python), "-c", "import importlib.metadata as m, envforge; d = m.distribution('envforge-mlflow'); "
                           "print(d.metadata['Name'], d.version, d.metadata['Summary'], envforge.__file__, sep='|')"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)  # not the checkout: `-c` imports from the cwd
    dist_name, version, summary, module = meta.stdout.strip().split("|")
    assert (dist_name, version) == (DIST, __version__), meta.stdout + meta.stderr
    assert summary == "Prove that a logged MLflow model still works when its environment is rebuilt."
    assert module.startswith(str(venv)), module  # this project's code, installed from the index, not the source tree
    version_line = subprocess.run([str(venv / "bin" / "envforge"), "--version"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert version_line.stdout.strip() == f"envforge {__version__}", version_line.stdout + version_line.stderr
