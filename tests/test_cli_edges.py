"""The CLI's edges (issue 14): output paths checked before any work, no tracking server set, a server that
refuses connections, a typo'd scheme, an unknown model name, errors printed once. Each runs the real CLI;
none needs a build: the point is what happens *before* one."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.support.cli import envforge

MISSING = "/nonexistent/model-dir"  # were the report path not checked first, this would be the error


def _unwritable(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "a-file").write_text("x")
    return {"a directory": str(tmp_path), "under a file": str(tmp_path / "a-file" / "r.json"), "under /proc": "/proc/x/"}


@pytest.mark.parametrize("kind", ["a directory", "under a file", "under /proc"])
@pytest.mark.parametrize("argv", [["verify", MISSING, "--json"], ["verify", MISSING, "--junit"], ["serve-check", MISSING, "--json"],
                                  ["lock", MISSING, "-o"], ["bisect", MISSING, "--json"], ["verify-registry", "--html"]])
def test_an_unwritable_output_path_is_exit_2_before_any_work(tmp_path: Path, kind: str, argv: list[str]) -> None:
    path = _unwritable(tmp_path)[kind]
    run = envforge(*argv, path, home=tmp_path / "home")
    assert run.returncode == 2, run.output
    option = {"-o": "--output"}.get(argv[-1], argv[-1])
    assert f"envforge: error: {option} {path.rstrip('/')}: cannot be written: " in run.stderr, run.stderr
    assert "internal error" not in run.output and "No such model directory" not in run.output
    assert run.stderr.count("envforge: error:") == 1 and "fix: " in run.stderr


def test_two_reports_on_one_path_are_refused(tmp_path: Path) -> None:
    run = envforge("verify", MISSING, "--json", str(tmp_path / "r"), "--junit", str(tmp_path / "r"), home=tmp_path / "home")
    assert run.returncode == 2 and "--json and --junit both name" in run.stderr, run.output


@pytest.mark.parametrize("argv", [["verify", "models:/nope/1"], ["verify", "runs:/0a1b2c/model"], ["verify-registry", "--dry-run"]])
def test_no_tracking_server_set_writes_nothing_and_says_so(tmp_path: Path, argv: list[str]) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    run = envforge(*argv, home=tmp_path / "home", cwd=cwd, unset=("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"))
    assert run.returncode == 2, run.output
    assert list(cwd.iterdir()) == []  # MLflow 3's default store would be ./mlflow.db
    assert "No tracking server is set" in run.stderr and "MLFLOW_TRACKING_URI=http://" in run.stderr, run.stderr
    assert "INFO" not in run.output and "Creating initial MLflow database" not in run.output


def _refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again: nothing listens there


def test_a_server_that_refuses_connections_is_named(tmp_path: Path) -> None:
    port = _refused_port()
    run = envforge("verify", "models:/iris/1", "--tracking-uri", f"http://127.0.0.1:{port}", home=tmp_path / "home")
    assert run.returncode == 2, run.output
    assert f"cannot connect to 127.0.0.1:{port}: connection refused" in run.stderr, run.stderr
    assert "(tried 3 times)" in run.stderr  # a server just starting gets a second chance (the spinner says each retry)
    assert "Max retries exceeded" not in run.output


def test_a_registry_run_against_a_refusing_server_is_named(tmp_path: Path) -> None:
    port = _refused_port()
    run = envforge("verify-registry", "--dry-run", "--tracking-uri", f"http://127.0.0.1:{port}", home=tmp_path / "home")
    assert run.returncode == 2 and f"cannot connect to 127.0.0.1:{port}: connection refused" in run.stderr, run.output


def test_an_unresolvable_host_is_named(tmp_path: Path) -> None:
    run = envforge("verify", "models:/iris/1", "--tracking-uri", "http://no-such-host.invalid:5000", home=tmp_path / "home")
    assert run.returncode == 2 and "cannot resolve the host 'no-such-host.invalid'" in run.stderr, run.output


def test_a_typod_scheme_gets_the_closest_one(tmp_path: Path) -> None:
    run = envforge("verify", "modles:/x/1", home=tmp_path / "home")
    assert run.returncode == 2, run.output
    assert "Unknown URI scheme 'modles:'; did you mean 'models:'?" in run.stderr, run.stderr
    assert "fix: Use models:/x/1." in run.stderr and "tracking server is reachable" not in run.output


def test_an_unknown_model_name_gets_the_closest_registered_names(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=store, registry_uri=store)
    for name in ("iris", "iris-classifier", "fraud"):
        client.create_registered_model(name)
    run = envforge("verify", "models:/irsi/1", "--tracking-uri", store, home=tmp_path / "home")
    assert run.returncode == 2, run.output
    assert "Registered models with a close name: 'iris'" in run.stderr, run.stderr
    assert "'fraud'" not in run.stderr


def test_an_error_is_printed_once_on_stderr_and_its_step_marked(tmp_path: Path) -> None:
    run = envforge("verify", MISSING, home=tmp_path / "home")
    assert run.returncode == 2
    assert run.output.count("No such model directory") == 1 and "envforge: error: No such model directory" in run.stderr
    assert run.stderr.count("fix: ") == 1
    assert f"ERROR {MISSING} (exit 2)" in run.stdout and "error:" not in run.stdout
    resolve_row = next(line for line in run.stderr.splitlines() if line.strip().startswith("resolve"))
    assert "failed" in resolve_row


def test_a_usage_error_of_any_command_is_envforge_error_and_fix(tmp_path: Path) -> None:
    run = envforge("cache", "prune", "--older-than", "soon", home=tmp_path / "home")
    assert run.returncode == 2
    assert "envforge: error: 'soon' is not a duration." in run.stderr and "fix: Use a number and a unit" in run.stderr


def test_mlflow_info_lines_stay_out_unless_verbose(tmp_path: Path) -> None:
    """An empty SQLite file the user named (a missing one is refused before MLflow is asked: issue 30): MLflow creates
    its tables and logs "Creating initial MLflow database tables..." at INFO."""
    (tmp_path / "a.db").touch()
    (tmp_path / "b.db").touch()
    quiet = envforge("verify", "models:/x/1", "--tracking-uri", f"sqlite:///{tmp_path / 'a.db'}", home=tmp_path / "home")
    assert quiet.returncode == 2 and "does not exist" in quiet.stderr, quiet.output
    assert "INFO" not in quiet.output and "Creating initial MLflow database" not in quiet.output
    verbose = envforge("verify", "models:/x/1", "-v", "--tracking-uri", f"sqlite:///{tmp_path / 'b.db'}", home=tmp_path / "home")
    assert "INFO mlflow" in verbose.output


def test_dockerfile_output_is_a_directory_checked_first(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    under_file = envforge("dockerfile", MISSING, "-o", str(tmp_path / "a-file" / "ctx"), home=tmp_path / "home")
    assert under_file.returncode == 2 and "--output" in under_file.stderr and "is a file, so nothing can be created" in under_file.stderr
    is_file = envforge("dockerfile", MISSING, "-o", str(tmp_path / "a-file"), home=tmp_path / "home")
    assert is_file.returncode == 2 and "it is a file, not a directory" in is_file.stderr
    fine = envforge("dockerfile", MISSING, "-o", str(tmp_path / "ctx"), home=tmp_path / "home")
    assert fine.returncode == 2 and "No such model directory" in fine.stderr  # the path passed: the model is what is wrong
