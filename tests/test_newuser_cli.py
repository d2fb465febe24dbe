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
