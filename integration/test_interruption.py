"""Concurrent, killed, cancelled, starved and isolated runs (issue 8, parts 2-4).

Real envforge processes on real models; the kills are real signals, the full disk a real tmpfs,
the hung tracking server a real socket on 127.0.0.1 that accepts and never answers (the one
thing that cannot exist here on purpose: a remote server that hangs).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.support.cli import envforge, report, start_envforge
from tests.support.models import save_code_model

pytestmark = pytest.mark.slow

MARKER = ".envforge-state.json"


def _code_model(path: Path, body: str) -> Path:
    """A pyfunc model whose saved code is `body` (MLflow runs predict while saving, so the model is
    saved well-behaved and its saved copy of the code is replaced afterwards)."""
    model = save_code_model(path, _source("return x"))
    for py in model.glob("*.py"):
        py.write_text(_source(body))
    return model


def _source(body: str) -> str:
    return ("import mlflow\n\nclass M(mlflow.pyfunc.PythonModel):\n"
            "    def predict(self, context, model_input, params=None):\n        return _predict(model_input)\n\n"
            f"def _predict(x):\n    {body}\n\nmlflow.models.set_model(M())\n")


def _locks_free(home: Path) -> None:
    import filelock

    for lock_file in (home / "locks").glob("*.lock"):
        lock = filelock.FileLock(str(lock_file))
        lock.acquire(timeout=0)  # filelock.Timeout if anyone still holds it
        lock.release()


def _half_built(home: Path) -> list[Path]:
    envs = home / "envs"
    return [e for e in envs.iterdir() if not e.name.startswith(".") and not (e / MARKER).is_file()] if envs.is_dir() else []


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _wait_for_build(home: Path, proc: subprocess.Popen[str]) -> None:
    _wait(lambda: any((home / "envs").glob("uv-*")) or proc.poll() is not None, 120, "the build to start")


def _runner_of(proc: subprocess.Popen[str]) -> list[psutil.Process]:
    """The runner processes (run_model.py) started by an envforge process."""
    out = []
    for child in psutil.Process(proc.pid).children(recursive=True):
        try:
            if any("run_model.py" in part for part in child.cmdline()):
                out.append(child)
        except psutil.NoSuchProcess:
            pass
    return out


def test_eight_concurrent_verifies_build_once_and_all_pass(sklearn_model: Path, home: Path, tmp_path: Path) -> None:
    assert envforge("record", str(sklearn_model), home=home).returncode == 0
    procs = [start_envforge("verify", str(sklearn_model), "--json", str(tmp_path / f"{i}.json"), home=home) for i in range(8)]
    outputs = [p.communicate(timeout=900) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, outputs
    reused = sorted(report(tmp_path / f"{i}.json")["env"]["reused"] for i in range(8))
    assert reused == [False] + [True] * 7  # exactly one build
    assert len(list((home / "envs").iterdir())) == 1
    _locks_free(home)


def test_builds_killed_at_several_moments_are_detected_and_rebuilt(sklearn_model: Path, home: Path, tmp_path: Path) -> None:
    """SIGKILL to envforge and every process under it (what a CI runner does to a cancelled job),
    at several moments of a build; the next verify rebuilds whatever was left half-built."""
    assert envforge("record", str(sklearn_model), home=home).returncode == 0
    left_half_built = 0
    for n, delay in enumerate((0.0, 0.4, 1.0, 2.0)):
        shutil.rmtree(home / "envs", ignore_errors=True)  # each round starts from no env: a build to interrupt
        proc = start_envforge("verify", str(sklearn_model), home=home)
        _wait_for_build(home, proc)
        time.sleep(delay)
        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        for p in tree:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        proc.communicate()
        psutil.wait_procs(tree, timeout=30)
        left_half_built += bool(_half_built(home))
        _locks_free(home)
        again = envforge("verify", str(sklearn_model), "--json", str(tmp_path / f"{n}.json"), home=home)
        assert again.returncode == 0, (delay, again.output)
        assert not _half_built(home)
        env = report(tmp_path / f"{n}.json")["env"]
        assert (Path(env["path"]) / MARKER).is_file()
    assert left_half_built >= 2, "the kills never interrupted a build: the test did not test anything"


def test_sigterm_stops_the_build_and_the_model_and_leaves_no_lock(sklearn_model: Path, home: Path, tmp_path: Path) -> None:
    # During a build: the installer is stopped, the half-built env removed.
    proc = start_envforge("verify", str(sklearn_model), home=home)
    _wait_for_build(home, proc)
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "terminated" in err and "Traceback" not in err
    psutil.wait_procs(children, timeout=10)
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE], "a child outlived envforge"
    assert not _half_built(home) and not list((home / "envs").glob("uv-*"))
    _locks_free(home)

    # During predict: the model's process is stopped too.
    model = _code_model(tmp_path / "slow", "import time\n    time.sleep(600)\n    return x")
    proc = start_envforge("verify", str(model), home=home)
    _wait(lambda: bool(_runner_of(proc)) or proc.poll() is not None, 300, "the model's process to start")
    runners = _runner_of(proc)
    assert runners, proc.communicate()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    psutil.wait_procs(runners, timeout=10)
    assert not [r for r in runners if r.is_running() and r.status() != psutil.STATUS_ZOMBIE], "the model outlived envforge"
    _locks_free(home)
    assert not _half_built(home)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 48 MB filesystem (a tmpfs, which only root may mount), far too small for the iris env."""
    if os.geteuid() != 0:
        pytest.skip("mounting the small tmpfs needs root: run the suite as root (CI does), e.g. `sudo -E scripts/test.sh`")
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.root
def test_full_disk_during_a_build_is_exit_3_and_the_cache_is_left_as_it_was(sklearn_model: Path, small_disk: Path,
                                                                               tmp_path: Path) -> None:
    home = small_disk / "home"
    (home / "envs").mkdir(parents=True)
    (home / "envs" / "keep-me").mkdir()  # something already in the cache, which a failed build must not touch
    (home / "envs" / "keep-me" / MARKER).write_text("{}")
    before = sorted(p.relative_to(home).as_posix() for p in (home / "envs").rglob("*"))
    run = envforge("verify", str(sklearn_model), "--json", str(tmp_path / "r.json"), home=home)
    assert run.returncode == 3, run.output[-3000:]
    assert "ran out of space" in run.output and "ENVFORGE_HOME" in run.output, run.output[-3000:]
    assert "Traceback" not in run.output
    after = sorted(p.relative_to(home).as_posix() for p in (home / "envs").rglob("*"))
    assert after == before
    assert report(tmp_path / "r.json")["exit_code"] == 3
    _locks_free(home)


def test_cache_prune_during_a_verify_leaves_the_verify_working(home: Path, tmp_path: Path) -> None:
    model = _code_model(tmp_path / "slowish", "import time\n    time.sleep(6)\n    return x")
    assert envforge("record", str(model), home=home).returncode == 0
    proc = start_envforge("verify", str(model), home=home)
    _wait(lambda: bool(_runner_of(proc)) or proc.poll() is not None, 300, "the model's process to start")
    pruned = envforge("cache", "prune", "--all", "--json", home=home)
    assert pruned.returncode == 0, pruned.output
    assert json.loads(pruned.stdout)["removed"] == []
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + err
    assert "PASSED" in out + err


@pytest.fixture
def hung_server() -> Iterator[str]:
    """A tracking 'server' on 127.0.0.1 that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    server.close()


def test_download_timeout_against_a_server_that_never_answers(hung_server: str, home: Path) -> None:
    start = time.monotonic()
    run = envforge("verify", "models:/never/1", "--tracking-uri", hung_server, "--download-timeout", "3", home=home, timeout=120)
    assert time.monotonic() - start < 60
    assert run.returncode == 2, run.output
    assert "did not finish within 3 s" in run.output and "--download-timeout" in run.output
    assert "Traceback" not in run.output
    _locks_free(home)


def test_the_model_sees_no_credentials_unless_passed(home: Path, tmp_path: Path) -> None:
    model = _code_model(tmp_path / "nosy", "import os\n"
                        "    seen = [k for k in ('AWS_SECRET_ACCESS_KEY', 'MLFLOW_TRACKING_TOKEN', 'EF_PASSED') if k in os.environ]\n"
                        "    raise RuntimeError('seen: ' + (','.join(seen) or 'none'))")
    secrets = {"AWS_SECRET_ACCESS_KEY": "s3cr3t", "MLFLOW_TRACKING_TOKEN": "t0k3n", "EF_PASSED": "yes"}
    default = envforge("verify", str(model), home=home, env=secrets)
    assert default.returncode == 1 and "seen: none" in default.output, default.output[-2000:]
    passed = envforge("verify", str(model), "--pass-env", "EF_PASSED", home=home, env=secrets)
    assert passed.returncode == 1 and "seen: EF_PASSED" in passed.output, passed.output[-2000:]
    assert "s3cr3t" not in default.output + passed.output
    assert os.environ.get("AWS_SECRET_ACCESS_KEY") != "s3cr3t"
