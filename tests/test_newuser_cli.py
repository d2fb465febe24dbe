"""Issue 30, point 8: the errors a new user meets first are one paragraph with a fix, and `--json -` is stdout."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import envforge


def test_an_unknown_option_names_the_command_and_the_closest_option(tmp_path: Path) -> None:
    run = envforge("verify", "models:/fraud/1", "--rtoll", "1e-4", home=tmp_path / "home")
    assert run.returncode == 2
    assert "unknown option --rtoll for `envforge verify`; did you mean --rtol?" in run.stderr
    assert "fix: Use --rtol" in run.stderr
    assert "usage: envforge [-h]" not in run.output  # not the top-level usage
    run = envforge("verify", "models:/fraud/1", "--rtoll=1e-4", home=tmp_path / "home")
    assert run.returncode == 2 and "did you mean --rtol?" in run.stderr
    run = envforge("cache", "list", "--jsno", home=tmp_path / "home")
    assert run.returncode == 2 and "did you mean --json?" in run.stderr


def test_json_dash_prints_the_report_on_stdout_and_writes_no_file_named_dash(tmp_path: Path) -> None:
    not_a_model = tmp_path / "not-a-model"
    not_a_model.mkdir()
    run = envforge("verify", str(not_a_model), "--json", "-", home=tmp_path / "home", cwd=tmp_path)
    assert run.returncode == 2
    document = json.loads(run.stdout)  # stdout holds the document alone: the verdict went to stderr
    assert document["results"][0]["status"] == "error" and "No MLmodel file" in document["results"][0]["reason"]
    assert "wrote - (stdout)" in run.stderr
    assert not (tmp_path / "-").exists()


def test_help_names_the_current_spellings(tmp_path: Path) -> None:
    run = envforge("--help", home=tmp_path / "home")
    assert run.returncode == 0
    assert "--python: a Python REPL" not in run.stdout and "--repl" in run.stdout


def test_a_sqlite_tracking_uri_whose_file_is_missing_is_exit_2_and_creates_nothing(tmp_path: Path) -> None:
    """Issue 30, point 3: a typo in a sqlite URI used to create an empty store there and fail 10-20 s later."""
    run = envforge("verify", "models:/envforge-quickstart-iris/1", "--tracking-uri", "sqlite:///nowhere/mlflow.db",
                   home=tmp_path / "home", cwd=tmp_path)
    assert run.returncode == 2, run.output
    assert f"does not exist: {tmp_path / 'nowhere' / 'mlflow.db'}" in run.stderr  # the absolute path it looked at
    assert "fix: " in run.stderr and "Traceback" not in run.output
    assert not (tmp_path / "nowhere").exists() and not (tmp_path / "mlflow.db").exists()
    run = envforge("verify-registry", home=tmp_path / "home", cwd=tmp_path,
                   env={"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/missing/mlflow.db"})
    assert run.returncode == 2 and f"does not exist: {tmp_path}/missing/mlflow.db" in run.stderr
    assert not (tmp_path / "missing").exists()


def test_the_python_api_refuses_a_missing_sqlite_store_too(tmp_path: Path) -> None:
    import envforge

    result = envforge.verify("models:/iris/1", tracking_uri=f"sqlite:///{tmp_path}/typo/mlflow.db")
    assert (result.status, result.exit_code) == ("error", 2)
    assert "does not exist" in result.reason and not (tmp_path / "typo").exists()


def _uv_compile(tmp_path: Path, *pins: str) -> object:
    """A real resolve by uv (the default backend's installer) of `pins`: its Outcome, as a build step gets it."""
    from envforge.backends.tools import uv_bin
    from envforge.processes.proc import run

    (tmp_path / "req.txt").write_text("\n".join(pins) + "\n")
    return run([uv_bin(), "pip", "compile", "--quiet", str(tmp_path / "req.txt")], timeout=300)


def test_a_version_conflict_gets_the_conflict_fix_and_one_full_stop(tmp_path: Path) -> None:
    import pytest

    from envforge.backends.base import check
    from envforge.backends.remedies import CONFLICT
    from envforge.errors import EnvBuildError

    general = "Check that every pinned version exists on the package index."
    with pytest.raises(EnvBuildError) as conflict:
        check(_uv_compile(tmp_path, "scikit-learn==1.3.0", "numpy==1.16.0"), "Installing the requirements with uv", general)  # type: ignore[arg-type]
    assert conflict.value.remedy == CONFLICT and "every pinned version exists" not in conflict.value.remedy
    first = conflict.value.message.splitlines()[0]
    assert "No solution found" in first and not first.endswith("..") and first.endswith(".")
    assert not conflict.value.remedy.endswith("..")
    with pytest.raises(EnvBuildError) as missing:  # a pin that was never released: the general fix is the right one
        check(_uv_compile(tmp_path, "numpy==0.0.0.1"), "Installing the requirements with uv", general)  # type: ignore[arg-type]
    assert missing.value.remedy == general and not missing.value.message.splitlines()[0].endswith("..")


def test_a_backend_without_its_extra_says_which_extra_before_anything_is_downloaded(tmp_path: Path) -> None:
    """--backend conda without py-rattler: exit 3 with a fix line naming the extra, before the tracking server is asked
    (127.0.0.1:1 refuses: had envforge tried it first, the error would say so)."""
    import subprocess
    import sys

    script = ("import sys; sys.modules['rattler'] = None  # as if the conda extra were not installed\n"
              "from envforge.cli import main; sys.exit(main(sys.argv[1:]))")
    run = subprocess.run([sys.executable, "-c", script, "verify", "models:/iris/1", "--tracking-uri", "http://127.0.0.1:1",
                          "--backend", "conda"], capture_output=True, text=True, timeout=300,
                         env={**__import__("os").environ, "ENVFORGE_HOME": str(tmp_path / "home")})
    assert run.returncode == 3, run.stdout + run.stderr
    assert "The conda backend cannot run here: the Python package(s) rattler are not installed" in run.stderr
    assert "fix: Install envforge with the conda extra: pip install 'envforge-mlflow[conda]'" in run.stderr
    assert "cannot connect" not in run.stderr


def test_the_docker_engine_is_asked_before_the_model_is_downloaded(tmp_path: Path) -> None:
    run = envforge("verify", "models:/iris/1", "--tracking-uri", "http://127.0.0.1:1", "--backend", "docker",
                   home=tmp_path / "home", env={"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"})
    assert run.returncode == 3, run.output
    assert "Cannot reach a Docker engine" in run.stderr and "fix: Start a Docker engine" in run.stderr
    assert "cannot connect to 127.0.0.1:1" not in run.stderr  # the tracking server (the download) was never tried
