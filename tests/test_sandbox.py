"""The sandbox's parts that need no model: sizes, which limit an error shows, the link check, the
pipe-holder fix in proc.run, and bubblewrap itself confining a plain Python process (real bwrap)."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

from envforge.errors import EXIT_USAGE, ModelDirError, UsageError
from envforge.execution.sandbox import Limits, Sandbox, interpreter_paths, limit_in_errors, parse_size, unavailable
from envforge.modeldir.links import check_links
from envforge.processes.proc import child_env, run


def test_sizes_in_docker_notation() -> None:
    assert parse_size("4g") == 4 << 30 and parse_size("300m") == 300 << 20 and parse_size("1024") == 1024
    with pytest.raises(UsageError, match="not a size"):
        parse_size("lots")


@pytest.mark.parametrize(("error", "limit"), [
    ({"type": "MemoryError", "message": ""}, "memory"),
    ({"type": "OSError", "message": "[Errno 27] File too large"}, "file_size"),
    ({"type": "OSError", "message": "[Errno 24] Too many open files: 'x'"}, "open_files"),
    ({"type": "BlockingIOError", "message": "[Errno 11] Resource temporarily unavailable"}, "processes"),
    ({"type": "ValueError", "message": "bad input"}, None),
])
def test_the_limit_an_error_shows(error: dict, limit: str | None) -> None:
    assert limit_in_errors({"examples": [{"ok": False, "error": error}]}) == limit


def test_links_outside_the_model_dir_are_refused(tmp_path: Path) -> None:
    model = tmp_path / "model"
    (model / "data").mkdir(parents=True)
    (model / "data" / "weights.bin").write_bytes(b"w")
    (model / "inside").symlink_to("data/weights.bin")  # inside: fine
    check_links(model)
    (model / "data" / "model.pkl").symlink_to("/etc/passwd")
    with pytest.raises(ModelDirError) as caught:
        check_links(model)
    assert caught.value.exit_code == EXIT_USAGE
    assert "data/model.pkl" in caught.value.message and "/etc/passwd" in caught.value.message
    assert "--allow-outside-links" in caught.value.remedy
    check_links(model, allow_outside=True)  # DVC / git-annex: the user's choice


def test_a_daemon_holding_the_pipes_does_not_keep_run_waiting() -> None:
    """Issue 13's hang: the child exits, its grandchild (own session) holds stdout; run() returns and kills it."""
    marker = "6143.5"
    code = f"import subprocess; subprocess.Popen(['sleep', '{marker}'], start_new_session=True); print('done')"
    outcome = run([sys.executable, "-c", code], timeout=120)
    assert outcome.ok and not outcome.timed_out and outcome.stdout == "done\n"
    left = [p for p in os.listdir("/proc") if p.isdigit() and _cmdline(p) == f"sleep {marker}"]
    assert left == []


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


@pytest.mark.skipif(unavailable() is not None, reason=f"no sandbox here: {unavailable()}")
def test_bubblewrap_confines_a_plain_python(tmp_path: Path) -> None:
    """No network, no view of the host's files, a scratch HOME; the workdir alone is writable."""
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cr3t")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    workdir = tmp_path / "work"
    workdir.mkdir()
    probe = (
        "import os, socket\n"
        "def t(f):\n    try:\n        return f()\n    except OSError as e:\n        return type(e).__name__\n"
        f"print(t(lambda: open({str(secret)!r}).read()))\n"
        f"print(t(lambda: socket.create_connection(('127.0.0.1', {port}), timeout=3) and 'connected'))\n"
        "print(os.environ['HOME'], os.listdir(os.environ['HOME']))\n"
        f"open({str(workdir / 'out.txt')!r}, 'w').write('ok')\n"
    )
    sandbox = Sandbox(Limits(memory="1g"), tuple(interpreter_paths(Path(sys.prefix), sys.executable)))
    with sandbox.wrap([sys.executable, "-I", "-c", probe], sys.executable, workdir, child_env(), 60) as (argv, env):
        outcome = run(argv, timeout=120, env=env, cwd=str(workdir))
    server.close()
    assert outcome.ok, outcome.stderr
    assert outcome.stdout.splitlines() == ["FileNotFoundError", "ConnectionRefusedError", "/home/model []"]
    assert (workdir / "out.txt").read_text() == "ok"
    assert sandbox.report["network"] is False and sandbox.report["leftovers"] == []


def test_without_bubblewrap_on_refuses_and_auto_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine without bwrap cannot exist here (it is installed), so `which` is made to miss it."""
    from envforge.errors import EXIT_ENV, EnvBuildError
    from envforge.execution import sandbox

    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    sandbox.unavailable.cache_clear()
    try:
        with pytest.raises(EnvBuildError) as caught:
            sandbox.choose("on", Limits(), ())
        assert caught.value.exit_code == EXIT_ENV and "bubblewrap is not installed" in caught.value.message
        chosen, warning = sandbox.choose("auto", Limits(), ())
        assert chosen is None and warning and "WITHOUT a sandbox" in warning and "network" in warning
        assert sandbox.choose("off", Limits(), ()) == (None, None)
    finally:
        sandbox.unavailable.cache_clear()
