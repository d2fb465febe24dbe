"""envforge installs like a tool: `python -m build` makes a wheel that holds the runner and both entry points,
and that wheel installed into a fresh venv (uv venv + uv pip install, and `uv tool install`) runs
`envforge --version` and `envforge verify` on a real model, from outside the source tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from envforge.version import __version__
from tests.support.cli import envforge

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def _uv() -> str:
    beside = Path(sys.executable).parent / "uv"  # the uv PyPI package envforge depends on
    found = str(beside) if beside.exists() else shutil.which("uv")
    if not found:
        pytest.fail("no uv: it is one of envforge's dependencies (pip install -e '.[test]')")
    return found


def _run(*argv: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, cwd=cwd, env={**os.environ, **(env or {})}, timeout=timeout)


def _install(uv: str, *argv: str, cwd: Path, env: dict[str, str] | None = None) -> None:
    """From uv's cache only when it holds every dependency, else from the package index."""
    offline = _run(uv, *argv, "--offline", cwd=cwd, env=env)
    if offline.returncode != 0:
        online = _run(uv, *argv, cwd=cwd, env=env)
        assert online.returncode == 0, offline.stderr + online.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    built = _run(sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT), cwd=out)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (found,) = out.glob("envforge_mlflow-*.whl")
    return found


def test_the_wheel_holds_the_runner_and_the_entry_points(wheel: Path) -> None:
    assert wheel.name == f"envforge_mlflow-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = archive.read(f"envforge_mlflow-{__version__}.dist-info/entry_points.txt").decode()
    source = {p.relative_to(ROOT).as_posix() for p in (ROOT / "envforge").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert {"envforge/runner/run_model.py", "envforge/runner/introspect.py"} <= names
    assert source <= names, f"missing from the wheel: {sorted(source - names)}"  # every module and data file of the package
    assert "envforge/ci/envforge-ci.sh" in names  # the CI templates' script: python -m envforge.ci_script finds it
    assert "envforge = envforge.cli:run" in entry_points and "envforge = envforge.pytest_plugin" in entry_points


def test_installed_wheel_verifies_a_model_from_a_fresh_venv(wheel: Path, sklearn_model: Path, home: Path, tmp_path: Path) -> None:
    uv = _uv()
    venv = tmp_path / "venv"
    created = _run(uv, "venv", "-q", "--python", sys.executable, str(venv), cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    _install(uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), str(wheel), cwd=tmp_path)
    tool = venv / "bin" / "envforge"

    version = _run(str(tool), "--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.strip() == f"envforge {__version__}", version.stdout + version.stderr
    where = _run(str(venv / "bin" / "python"), "-c", "import envforge; print(envforge.__file__)", cwd=tmp_path)
    assert where.stdout.strip().startswith(str(venv)), where.stdout  # the installed copy, not the source tree

    script = _run(str(venv / "bin" / "python"), "-m", "envforge.ci_script", cwd=tmp_path)
    assert script.returncode == 0 and Path(script.stdout.strip()).is_file() and script.stdout.startswith(str(venv)), script.stdout

    recorded = envforge("record", str(sklearn_model), home=home)
    assert recorded.returncode == 0, recorded.output
    run = _run(str(tool), "verify", str(sklearn_model), cwd=tmp_path, env={"ENVFORGE_HOME": str(home), "COLUMNS": "200"})
    assert run.returncode == 0, run.stdout + run.stderr
    assert "PASSED" in run.stdout and "1 example(s) match the recorded predictions" in run.stdout


def test_uv_tool_install_puts_envforge_on_the_path(wheel: Path, tmp_path: Path) -> None:
    uv = _uv()
    dirs = {"UV_TOOL_DIR": str(tmp_path / "tools"), "UV_TOOL_BIN_DIR": str(tmp_path / "bin")}
    _install(uv, "tool", "install", "--python", sys.executable, str(wheel), cwd=tmp_path, env=dirs)
    version = _run(str(tmp_path / "bin" / "envforge"), "--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.strip() == f"envforge {__version__}", version.stdout + version.stderr
