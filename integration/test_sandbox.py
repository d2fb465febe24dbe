"""The model's sandbox (issue 13): hostile pyfunc models, logged by real MLflow, attack from predict().

Each model is saved well-behaved, its predictions recorded by `envforge record` (which runs it in this
process's env), and then the attack replaces its code (as in test_hostile_models.py). The verifications run
the real CLI with a temporary HOME holding fake credentials; the uv runs share one ENVFORGE_HOME (one env).
Where the attack reads something back, the same model under --sandbox off proves the attack works.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import envforge
from tests.support.models import record_digests_again, save_code_model

pytestmark = pytest.mark.slow

SECRET = "AKIAENVFORGETESTSECRET0013"
REAL_HOME = os.path.expanduser("~")


def _source(body: str) -> str:
    return (
        "import os, socket, subprocess, time\nimport mlflow\n\n"
        "class M(mlflow.pyfunc.PythonModel):\n"
        "    def predict(self, context, model_input, params=None):\n"
        "        return _attack(model_input)\n\n"
        "def _try(f):\n"
        "    try:\n        return str(f())\n"
        "    except BaseException as exc:\n        return 'blocked: %s' % type(exc).__name__\n\n"
        "def _attack(x):\n"
        + "".join(f"    {line}\n" for line in body.strip().splitlines())
        + "\nmlflow.models.set_model(M())\n"
    )


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A well-behaved pyfunc model with recorded predictions (the template every attack starts from)."""
    root = tmp_path_factory.mktemp("sandbox-template")
    model = save_code_model(root / "model", _source("return x"))
    run = envforge("record", str(model), home=root / "home")
    assert run.returncode == 0, run.output
    return model


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sandbox-envforge-home")


@pytest.fixture
def user_home(tmp_path: Path) -> Path:
    """A temporary HOME with fake secrets and a .bashrc."""
    home = tmp_path / "user-home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(f"[default]\naws_secret_access_key = {SECRET}\n")
    (home / ".bashrc").write_text("# the user's own\n")
    return home


def attack(recorded: Path, tmp_path: Path, body: str) -> Path:
    model = tmp_path / "hostile"
    shutil.copytree(recorded, model)
    for py in model.glob("*.py"):
        py.write_text(_source(body))
    record_digests_again(model)
    return model


def verify(model: Path, home: Path, user_home: Path, *args: str, backend: str = "uv") -> tuple[int, str, dict]:
    report = model.parent / f"report-{len(list(model.parent.glob('report-*')))}.json"
    env = {"HOME": str(user_home), "PYENV_ROOT": os.environ.get("PYENV_ROOT", f"{REAL_HOME}/.pyenv"),
           "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR", f"{REAL_HOME}/.cache/uv")}
    run = envforge("verify", str(model), "--backend", backend, "--json", str(report), *args, home=home, env=env, timeout=600)
    data = json.loads(report.read_text())["results"][0] if report.is_file() else {}
    return run.returncode, run.output, data


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "absent"


def survivors(marker: str) -> list[str]:
    """Command lines of live processes (all of /proc) that contain `marker`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline and "pytest" not in cmdline:
            found.append(cmdline)
    return found


SECRETS = """
paths = [os.path.expanduser('~/.aws/credentials'), {home!r} + '/.aws/credentials']
raise RuntimeError('findings: %r' % [_try(lambda: open(p).read()) for p in paths])
"""


def test_secrets_in_home_are_not_readable(recorded: Path, shared_home: Path, user_home: Path, tmp_path: Path) -> None:
    model = attack(recorded, tmp_path, SECRETS.format(home=str(user_home)))
    code, output, report = verify(model, shared_home, user_home, "--sandbox", "on")
    assert code == 1, output  # the attack raises with its findings as the message
    assert SECRET not in json.dumps(report) and SECRET not in output
    assert "blocked: FileNotFoundError" in report["model_error"]["message"]
    assert report["sandbox"]["network"] is False and report["sandbox"]["home"] == "scratch"
    # the same model unconfined does read the secret: the attack is real
    code, output, report = verify(model, shared_home, user_home, "--sandbox", "off")
    assert SECRET in json.dumps(report), output
    assert report["sandbox"]["network"] is True


class Counter:
    def __init__(self, server: socket.socket) -> None:
        self.count = 0
        self.server = server
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.count += 1
            conn.close()


@pytest.fixture
def listeners(tmp_path: Path) -> Iterator[tuple[int, str, Counter, Counter]]:
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(16)
    path = str(tmp_path / "s.sock")
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(path)
    unix.listen(16)
    yield tcp.getsockname()[1], path, Counter(tcp), Counter(unix)
    tcp.close()
    unix.close()


NETWORK = """
def tcp():
    socket.create_connection(('127.0.0.1', {port}), timeout=5).close()
def unix():
    s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect({path!r}); s.close()
raise RuntimeError('findings: %r' % [_try(tcp), _try(unix)])
"""


@pytest.mark.parametrize("backend", ["uv", "virtualenv"])
def test_no_connection_reaches_the_host(backend: str, recorded: Path, shared_home: Path, user_home: Path, tmp_path: Path,
                                        listeners: tuple[int, str, Counter, Counter]) -> None:
    port, path, tcp, unix = listeners
    model = attack(recorded, tmp_path, NETWORK.format(port=port, path=path))
    code, output, report = verify(model, shared_home, user_home, "--sandbox", "on", backend=backend)
    assert code == 1 and report["sandbox"]["network"] is False, output
    assert (tcp.count, unix.count) == (0, 0)
    if backend == "uv":  # unconfined, both connections arrive: the servers count what they should
        verify(model, shared_home, user_home, "--sandbox", "off")
        assert (tcp.count, unix.count) == (1, 1)


WRITES = """
for p in [os.path.expanduser('~/.bashrc'), {bashrc!r}, {victim!r}, {cfg!r}, {home!r} + '/PWNED']:
    _try(lambda: open(p, 'a').write('pwned\\n'))
return x
"""


def test_writes_outside_do_not_land(recorded: Path, shared_home: Path, user_home: Path, tmp_path: Path) -> None:
    # the env exists after the first test; if this test runs alone, a first verify builds it
    verify(attack(recorded, tmp_path / "first", "return x"), shared_home, user_home, "--sandbox", "on")
    cfgs = list((shared_home / "envs").glob("*/pyvenv.cfg"))
    assert cfgs
    victim = tmp_path / "victim.txt"
    victim.write_text("the test's own\n")
    watched = [user_home / ".bashrc", victim, *cfgs]
    before = [_digest(p) for p in watched]
    body = WRITES.format(bashrc=str(user_home / ".bashrc"), victim=str(victim), cfg=str(cfgs[0]), home=str(shared_home))
    code, output, report = verify(attack(recorded, tmp_path, body), shared_home, user_home, "--sandbox", "on")
    assert code == 0, output  # the model returned its input: it passes, and wrote nothing anywhere
    assert [_digest(p) for p in watched] == before
    assert not (shared_home / "PWNED").exists()


LIMITS = {
    "processes": ("""
for i in range(400):
    if os.fork() == 0:
        os.execv('/bin/sleep', ['sleep', '6131'])
return x
""", ["--max-processes", "150"], "6131"),
    "memory": ("""
block = bytes(6 * 2 ** 30)
return x
""", ["--memory", "1500m"], None),
    "file size": ("""
with open('/tmp/big', 'wb') as handle:
    for _ in range(64):
        handle.write(b'0' * 2 ** 20)
return x
""", ["--max-file-size", "10m"], None),
}


@pytest.mark.parametrize("limit", list(LIMITS))
def test_limits_stop_the_model(limit: str, recorded: Path, shared_home: Path, user_home: Path, tmp_path: Path) -> None:
    body, args, marker = LIMITS[limit]
    code, output, report = verify(attack(recorded, tmp_path, body), shared_home, user_home, "--sandbox", "on", *args)
    assert code == 1, output
    assert f"hit the {limit} limit" in output
    assert report["sandbox"]["limit_hit"] == limit.replace(" ", "_")
    if marker:
        assert survivors(f"sleep {marker}") == []


DAEMON = """
subprocess.Popen(['sleep', '{seconds}'], start_new_session=True)
return x
"""


def test_a_daemon_is_killed_and_named(recorded: Path, shared_home: Path, user_home: Path, tmp_path: Path) -> None:
    code, output, report = verify(attack(recorded, tmp_path, DAEMON.format(seconds=6137)), shared_home, user_home, "--sandbox", "on")
    assert code == 1, output
    assert "left 1 process(es) running" in output and "sleep 6137" in output
    assert survivors("sleep 6137") == []


def test_a_daemon_does_not_hang_an_unsandboxed_verify(recorded: Path, shared_home: Path, user_home: Path, tmp_path: Path) -> None:
    """The hang of issue 13: the daemon holds the runner's pipes; verify returns when the runner exits
    (the CLI call's own timeout, far below --predict-timeout, would fail the test otherwise)."""
    model = attack(recorded, tmp_path, DAEMON.format(seconds=6139))
    code, output, _ = verify(model, shared_home, user_home, "--sandbox", "off", "--predict-timeout", "3000")
    assert code == 0, output
    assert survivors("sleep 6139") == []


def test_a_link_to_etc_passwd_is_refused_before_any_build(recorded: Path, user_home: Path, tmp_path: Path) -> None:
    model = attack(recorded, tmp_path, "return x")
    (model / "python_model.pkl").unlink(missing_ok=True)
    (model / "requirements.txt").unlink()
    (model / "requirements.txt").symlink_to("/etc/passwd")
    home = tmp_path / "empty-home"
    code, output, _ = verify(model, home, user_home)
    assert code == 2, output
    assert "requirements.txt" in output and "/etc/passwd" in output and "--allow-outside-links" in output
    assert not (home / "envs").exists() or not any((home / "envs").iterdir())


def test_conda_env_model_cannot_read_secrets(conda_channel: str, user_home: Path, tmp_path: Path) -> None:
    from tests.support.conda_models import fake_ef_hello, save_conda_model

    model = save_conda_model(tmp_path / "conda-model", [conda_channel])
    training_bin = fake_ef_hello(tmp_path / "training-bin")
    import sys

    recorded = envforge("record", str(model), home=tmp_path / "h",
                        env={"PATH": f"{training_bin}:{Path(sys.executable).parent}:/usr/bin:/bin"})
    assert recorded.returncode == 0, recorded.output
    for py in model.glob("*.py"):
        py.write_text(_source(SECRETS.format(home=str(user_home))))
    record_digests_again(model)
    code, output, report = verify(model, tmp_path / "conda-home", user_home, "--sandbox", "on", backend="conda")
    assert code == 1, output
    assert SECRET not in json.dumps(report) and "blocked: FileNotFoundError" in report["model_error"]["message"]
    assert report["sandbox"]["home"] == "scratch"


@pytest.mark.parametrize("sandbox", ["on", "off"])
def test_sigkill_of_envforge_leaves_no_model_process(recorded: Path, shared_home: Path, user_home: Path, tmp_path: Path,
                                                     sandbox: str) -> None:
    """`kill -9` of envforge alone, mid-predict. Sandbox on: bubblewrap dies with its parent, and its PID
    namespace with it. Off: the runner's supervisor (envforge/processes/deathwatch.py) kills the runner's whole tree.
    Either way nothing of it is left, and the next verify passes."""
    import signal
    import time

    import psutil

    from tests.support.cli import start_envforge
    from tests.support.procs import wait_gone

    marker = "sleep 6151" if sandbox == "on" else "sleep 6152"
    model = attack(recorded, tmp_path, f"subprocess.Popen({marker.split()!r})\ntime.sleep(600)\nreturn x")
    env = {"HOME": str(user_home), "PYENV_ROOT": os.environ.get("PYENV_ROOT", f"{REAL_HOME}/.pyenv"),
           "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR", f"{REAL_HOME}/.cache/uv")}
    proc = start_envforge("verify", str(model), "--sandbox", sandbox, home=shared_home, env=env)
    tree: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 300
        while not survivors(marker) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
        assert survivors(marker), "the model never started its process"
        tree = psutil.Process(proc.pid).children(recursive=True)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert wait_gone(tree) == [], "outlived envforge"
        assert survivors(marker) == []
    finally:
        if proc.poll() is None:
            proc.kill()
        for p in tree:  # the test's own debris, if it failed
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
    code, output, _ = verify(recorded, shared_home, user_home, "--sandbox", sandbox)
    assert code == 0, output
