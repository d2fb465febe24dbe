"""The real Docker engine for tests: scripts/setup-docker.sh starts it (and makes the base image)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Made by scripts/setup-docker.sh with debootstrap (Debian's python3 3.11.2): no registry is reachable.
BASE_IMAGE = os.environ.get("ENVFORGE_TEST_BASE_IMAGE", "envforge-test-base:bookworm")


def start_engine() -> str:
    """DOCKER_HOST of a running engine that has BASE_IMAGE (idempotent; about 0.1 s when warm)."""
    proc = subprocess.run([str(ROOT / "scripts" / "setup-docker.sh")], capture_output=True, text=True, timeout=1200)
    if proc.returncode != 0:
        raise RuntimeError(f"scripts/setup-docker.sh failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stdout.strip().splitlines()[-1]


def client(host: str):
    import docker

    return docker.DockerClient(base_url=host, version="auto", timeout=120)


def start_podman() -> str:
    """DOCKER_HOST of Podman's Docker-compatible API socket, with BASE_IMAGE loaded (scripts/setup-podman.sh)."""
    start_engine()  # makes (or finds) the cached base image archive that Podman loads
    proc = subprocess.run([str(ROOT / "scripts" / "setup-podman.sh")], capture_output=True, text=True, timeout=1200)
    if proc.returncode != 0:
        raise RuntimeError(f"scripts/setup-podman.sh failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stdout.strip().splitlines()[-1]


def image_python_version(host: str, image: str = BASE_IMAGE) -> str:
    """The Python version BASE_IMAGE has, asked of the image itself (not assumed from the machine it was made on)."""
    output = client(host).containers.run(image, ["python3", "-c", "import platform; print(platform.python_version())"],
                                         remove=True, network_disabled=True)
    return output.decode().strip()


def post_when_up(url: str, body: bytes, container, deadline: float = 180.0) -> dict:
    """POST `body` to a scoring server starting in `container` until it answers; fail with its logs if the
    container exits or `deadline` seconds pass."""
    import json
    import time
    import urllib.request

    start = time.monotonic()
    while True:
        try:
            request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())
        except OSError:
            container.reload()
            if container.status == "exited" or time.monotonic() - start > deadline:
                raise AssertionError("the scoring server did not answer:\n" + container.logs().decode(errors="replace")[-3000:]) from None
            time.sleep(1)
