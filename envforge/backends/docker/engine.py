"""The Docker engine, through the `docker` SDK: one way to connect, and its errors as EnvBuildError.

Honours DOCKER_HOST (and DOCKER_TLS_VERIFY/DOCKER_CERT_PATH) like the docker CLI; Podman's
Docker-compatible socket works the same way. The API version is negotiated with the engine
(Debian's engine speaks 1.41, older than the SDK's default).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from envforge.errors import EnvBuildError
from envforge.redact import redact

UNREACHABLE_REMEDY = (
    "Start a Docker engine (`systemctl start docker`, `dockerd`, or Podman's `podman system service`), "
    "or point DOCKER_HOST at a running one (unix:///path/to/docker.sock, tcp://host:2376)."
)
_VERSION_PROBE = "import sys; print('%d.%d.%d' % sys.version_info[:3])"


def engine_host() -> str:
    return os.environ.get("DOCKER_HOST") or "the default socket (unix:///var/run/docker.sock)"


def sdk_missing() -> str | None:
    try:
        import docker  # noqa: F401
    except ImportError:
        return "the `docker` Python package is not installed: `pip install 'envforge-mlflow[docker]'` (or `pip install docker`)."
    return None


def connect(timeout: float = 60.0) -> Any:
    """A docker.DockerClient talking to a live engine, or EnvBuildError saying why not."""
    missing = sdk_missing()
    if missing:
        raise EnvBuildError(f"The docker backend cannot run here: {missing}",
                            "Install envforge with the docker extra: pip install 'envforge-mlflow[docker]' (or pass --backend uv).")
    import docker

    try:
        client = docker.from_env(version="auto", timeout=int(timeout))
        client.ping()
    except Exception as exc:  # the SDK raises DockerException and requests' errors alike
        raise EnvBuildError(f"Cannot reach a Docker engine at {redact(engine_host())}: {short(exc)}.", UNREACHABLE_REMEDY) from None
    return client


@contextmanager
def engine_errors(what: str, remedy: str = "") -> Iterator[None]:
    """Turn an SDK or connection error inside the block into EnvBuildError about `what`."""
    import docker.errors
    import requests.exceptions

    try:
        yield
    except requests.exceptions.ConnectionError as exc:
        raise EnvBuildError(f"{what}: lost the Docker engine at {redact(engine_host())}: {short(exc)}.", UNREACHABLE_REMEDY) from None
    except docker.errors.DockerException as exc:
        raise EnvBuildError(f"{what} failed: {short(exc)}.", remedy) from None


def short(exc: BaseException) -> str:
    text = getattr(exc, "explanation", None) or str(exc) or type(exc).__name__
    return redact(str(text).strip().splitlines()[0] if str(text).strip() else type(exc).__name__)


def find_image(client: Any, name: str) -> Any | None:
    import docker.errors

    try:
        return client.images.get(name)
    except docker.errors.ImageNotFound:
        return None


def base_image(client: Any, name: str, log: Any = None) -> Any:
    """The base image, pulled when the engine does not have it; EnvBuildError when it cannot be had."""
    found = find_image(client, name)
    if found is not None:
        return found
    if log:
        log(f"pulling the base image {name}")
    import docker.errors
    import requests.exceptions

    try:
        return client.images.pull(name)
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise EnvBuildError(
            f"The base image {name!r} is not in the Docker engine at {redact(engine_host())} and cannot be pulled: {short(exc)}.",
            "Pull or load it first (`docker pull`, `docker load`), or pass --base-image with an image the engine has "
            "(`docker images` lists them); it needs python3 with the venv module.",
        ) from None


def run_python(client: Any, image: str, argv: list[str], what: str) -> str:
    """stdout of a short, network-less container run (a probe); EnvBuildError when it fails."""
    import docker.errors

    try:
        out = client.containers.run(image, entrypoint=argv, command=[], network_mode="none", remove=True,
                                    stdout=True, stderr=False, user="0")
    except docker.errors.ContainerError as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else str(exc.stderr)
        raise EnvBuildError(f"{what} failed in {image}: {redact(stderr.strip()[-1500:])}", "") from None
    except docker.errors.DockerException as exc:
        raise EnvBuildError(f"{what} failed in {image}: {short(exc)}.", "") from None
    return out.decode(errors="replace") if isinstance(out, bytes) else str(out)


def python_version(client: Any, image: str, python: str = "python3") -> str:
    text = run_python(client, image, [python, "-c", _VERSION_PROBE], f"Finding {python}'s version")
    return text.strip().splitlines()[-1] if text.strip() else ""


def probe_env(client: Any, image: str, python: str) -> dict[str, Any]:
    """The env image's Python version and installed distributions ("name==version")."""
    script = ("import sys, json, importlib.metadata as m; print(json.dumps({'version': '%d.%d.%d' % sys.version_info[:3], "
              "'installed': sorted({d.metadata['Name'] + '==' + d.version for d in m.distributions() if d.metadata['Name']})}))")
    text = run_python(client, image, [python, "-I", "-c", script], "Checking the built environment")
    return json.loads(text.strip().splitlines()[-1])
