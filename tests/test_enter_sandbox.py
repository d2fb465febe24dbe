"""run/shell's sandbox and first line (execution/enter_sandbox.py) and where a verdict's expectations came from
(modeldir/unstored.origin), issue 31. The sandbox part runs real bubblewrap on this machine's Python."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from envforge.backends.run_options import RunOptions
from envforge.execution import enter_sandbox
from envforge.execution.sandbox import interpreter_paths
from envforge.modeldir.unstored import origin

SECRET = "s3cr3t-value-91ab"


def test_the_first_line_names_what_the_command_sees_and_never_a_value(tmp_path: Path) -> None:
    environ = {"PATH": "/usr/bin", "HOME": "/root", "AWS_SECRET_ACCESS_KEY": SECRET, "MLFLOW_TRACKING_TOKEN": SECRET, "LANG": "C"}
    off = enter_sandbox.plan(RunOptions(sandbox="off"), str(tmp_path))
    line = off.first_line(environ)
    assert line.startswith("UNSANDBOXED (--sandbox off)") and "AWS_SECRET_ACCESS_KEY" in line and "MLFLOW_TRACKING_TOKEN" in line
    assert SECRET not in line and off.base_env(environ) == environ
    on = enter_sandbox.plan(RunOptions(sandbox="on"), str(tmp_path))
    assert on.confined and "AWS_SECRET_ACCESS_KEY" not in on.base_env(environ)
    line = on.first_line(environ)
    assert line.startswith("sandboxed (--sandbox on): no network, not your home") and line.endswith("no credential")
    assert f"the current directory {tmp_path.resolve()} read-write" in line


def test_the_home_is_never_the_shared_directory(tmp_path: Path) -> None:
    home = Path.home()
    assert enter_sandbox.plan(RunOptions(sandbox="on"), str(home)).shared_dir is None
    assert enter_sandbox.plan(RunOptions(sandbox="on"), "/").shared_dir is None
    assert enter_sandbox.plan(RunOptions(sandbox="on"), str(tmp_path)).shared_dir == str(tmp_path.resolve())


def test_a_sandboxed_command_sees_no_credential_no_network_and_only_the_shared_directory(tmp_path: Path) -> None:
    entry = enter_sandbox.plan(RunOptions(sandbox="on"), str(tmp_path))
    variables = {**entry.base_env({"PATH": "/usr/bin:/bin", "AWS_SECRET_ACCESS_KEY": SECRET}), "MODEL_DIR": "/m"}
    script = ("import os, socket\nprint(sorted(os.environ))\nprint(os.getcwd(), os.environ['HOME'])\n"
              "open('made.txt', 'w').write('x')\n"
              "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=3); print('network')\n"
              "except OSError:\n    print('no network')\n")
    read_only = interpreter_paths(Path(sys.prefix), sys.executable)
    with enter_sandbox.wrapped(entry, [sys.executable, "-c", script], variables, read_only, sys.executable,
                               interactive=False) as (argv, env):
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    names, where, network = done.stdout.splitlines()
    assert "AWS_SECRET_ACCESS_KEY" not in names and SECRET not in done.stdout and "MODEL_DIR" in names
    assert where == f"{tmp_path.resolve()} /home/model" and network == "no network"
    assert (tmp_path / "made.txt").read_text() == "x"  # the shared directory is writable


def test_a_command_not_on_the_envs_path_is_not_found(tmp_path: Path) -> None:
    entry = enter_sandbox.plan(RunOptions(sandbox="on"), str(tmp_path))
    with pytest.raises(FileNotFoundError):
        with enter_sandbox.wrapped(entry, ["no-such-command-here"], {"PATH": "/usr/bin"}, [], sys.executable, interactive=False):
            pass


def test_where_expectations_came_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVFORGE_HOME", str(tmp_path / "home"))
    cached = tmp_path / "home" / "models" / "abc" / "model" / "envforge-expectations.json"
    kept = tmp_path / "home" / "unstored" / "abc" / "envforge-expectations.json"
    local = tmp_path / "my-model" / "envforge-expectations.json"
    mine = tmp_path / "elsewhere.json"
    for path in (cached, kept, local, mine):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    assert origin("models:/m/1", None) == "server"
    assert origin(str(cached), str(cached.parent)) == "server"  # the download cache mirrors the server
    assert origin(str(kept), str(cached.parent)) == "unstored"
    assert origin(str(local), str(local.parent)) == "local"
    assert origin(str(mine), str(local.parent)) == "file"
    other = tmp_path / "other-home" / "unstored" / "abc" / "envforge-expectations.json"
    other.parent.mkdir(parents=True)
    other.write_text("{}")
    assert origin(str(other), None) == "unstored"  # kept by another ENVFORGE_HOME
