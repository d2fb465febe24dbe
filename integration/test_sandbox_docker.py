# ruff: noqa: F811  (test parameters named after the fixtures imported from test_sandbox)
"""Issue 13's hostile models under --backend docker: the same attacks as test_sandbox.py (fake
credentials in a temporary HOME, a TCP server on 127.0.0.1 and a Unix socket of the host, writes to
~/.bashrc, the env cache and the test's temp dir) against a real engine (scripts/setup-docker.sh) and
its debootstrap base image. The container has its own filesystem and no network: each attack finds
nothing of the host to reach. And `kill -9` of envforge mid-predict stops the model's container. The
limits, daemon and symlink cases are the uv-backend tests' (the engine enforces --memory and pids
there; the symlink check runs before any backend).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from test_sandbox import NETWORK, SECRET, SECRETS, WRITES, _digest, attack, listeners, recorded, user_home  # noqa: F401  (fixtures: pytest puts integration/ on sys.path)

from tests.support.cli import envforge
from tests.support.docker import BASE_IMAGE, start_engine

pytestmark = [pytest.mark.slow, pytest.mark.docker]


@pytest.fixture(scope="module")
def engine() -> dict[str, str]:
    return {"DOCKER_HOST": start_engine()}


@pytest.fixture(scope="module")
def docker_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sandbox-docker-home")  # one env image for the module


def verify(model: Path, home: Path, user_home: Path, engine: dict[str, str]) -> tuple[int, str, dict]:
    report = model.parent / "report.json"
    run = envforge("verify", str(model), "--backend", "docker", "--base-image", BASE_IMAGE, "--json", str(report),
                   home=home, env={**engine, "HOME": str(user_home)}, timeout=1500)
    data = json.loads(report.read_text())["results"][0] if report.is_file() else {}
    return run.returncode, run.output, data


def test_secrets_in_home_are_not_readable_in_docker(recorded: Path, docker_home: Path, user_home: Path, tmp_path: Path,
                                                    engine: dict[str, str]) -> None:
    model = attack(recorded, tmp_path, SECRETS.format(home=str(user_home)))
    code, output, report = verify(model, docker_home, user_home, engine)
    assert code == 1, output  # the attack raises with its findings as the message
    assert SECRET not in json.dumps(report) and SECRET not in output
    assert report["model_error"]["message"].count("blocked: FileNotFoundError") == 2, report["model_error"]
    assert report["sandbox"]["network"] is False and report["sandbox"]["home"] == "container"


def test_no_connection_reaches_the_host_from_docker(recorded: Path, docker_home: Path, user_home: Path, tmp_path: Path,
                                                    engine: dict[str, str], listeners) -> None:
    port, path, tcp, unix = listeners
    model = attack(recorded, tmp_path, NETWORK.format(port=port, path=path))
    code, output, report = verify(model, docker_home, user_home, engine)
    assert code == 1 and report["sandbox"]["network"] is False, output
    assert "blocked" in report["model_error"]["message"]
    assert (tcp.count, unix.count) == (0, 0)


def test_writes_outside_do_not_land_from_docker(recorded: Path, docker_home: Path, user_home: Path, tmp_path: Path,
                                                engine: dict[str, str]) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("the test's own\n")
    verify(attack(recorded, tmp_path / "first", "return x"), docker_home, user_home, engine)  # the env image exists
    cache = sorted(p for p in (docker_home / "envs").rglob("*")  # envforge's own use records change on every run
                   if p.is_file() and p.name not in (".envforge-used", ".envforge-models.json"))
    assert cache, "the docker env's directory in the cache should hold its image's record"
    watched = [user_home / ".bashrc", victim, *cache]
    before = [_digest(p) for p in watched]
    body = WRITES.format(bashrc=str(user_home / ".bashrc"), victim=str(victim), cfg=str(cache[0]), home=str(docker_home))
    code, output, _ = verify(attack(recorded, tmp_path, body), docker_home, user_home, engine)
    assert code == 0, output  # the model returned its input: it passes, and wrote nothing of the host's
    assert [_digest(p) for p in watched] == before
    assert not (docker_home / "PWNED").exists() and sorted(os.listdir(user_home)) == [".aws", ".bashrc"]


def _containers_running(client, marker: str) -> list[str]:
    """Running containers (of any test on this engine) in which a process's command line is `marker`."""
    found = []
    for container in client.containers.list(filters={"label": "org.envforge.run=1"}):
        try:
            processes = container.top().get("Processes") or []
        except Exception:  # it ended meanwhile
            continue
        if any(marker in " ".join(map(str, row)) for row in processes):
            found.append(container.id)
    return found


def test_sigkill_of_envforge_stops_the_model_container(recorded: Path, docker_home: Path, user_home: Path, tmp_path: Path,
                                                       engine: dict[str, str]) -> None:
    """`kill -9` of envforge alone, mid-predict: the container's stdin is envforge's attach connection,
    which the kernel closes; the runner (the container's PID 1) sees EOF and exits, ending the model."""
    import signal
    import time

    from tests.support.cli import start_envforge
    from tests.support.docker import client as docker_client

    client = docker_client(engine["DOCKER_HOST"])
    model = attack(recorded, tmp_path, "subprocess.Popen(['sleep', '6153'])\ntime.sleep(600)\nreturn x")
    proc = start_envforge("verify", str(model), "--backend", "docker", "--base-image", BASE_IMAGE, home=docker_home,
                          env={**engine, "HOME": str(user_home)})
    ids: list[str] = []
    try:
        deadline = time.monotonic() + 900
        while not ids and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
            ids = _containers_running(client, "sleep 6153")
        assert ids, f"the model never started its process: {proc.communicate()}"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        for _ in range(10):
            if not _containers_running(client, "sleep 6153"):
                break
            time.sleep(0.5)
        assert _containers_running(client, "sleep 6153") == [], "the model's container outlived envforge"
    finally:
        if proc.poll() is None:
            proc.kill()
        for container_id in ids:  # the stopped container stays (envforge removes it when it lives to): the test's debris
            try:
                client.containers.get(container_id).remove(force=True)
            except Exception:
                pass
    code, output, _ = verify(recorded, docker_home, user_home, engine)
    assert code == 0, output
