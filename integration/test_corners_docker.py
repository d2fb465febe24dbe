"""The docker corners no other test drove, against the real engine (scripts/setup-docker.sh) and its local
base image (no registry is reachable): `envforge dockerfile`'s context built by the engine and serving the
model, the default base image when --base-image is not given, --memory, --keep-image and --ca-bundle."""

from __future__ import annotations

import json
import platform
import shlex
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.support.cli import envforge, report
from tests.support.docker import BASE_IMAGE, client, post_when_up, start_engine
from tests.support.models import save_code_model
from tests.support.oracle import assert_same_as_truth

pytestmark = [pytest.mark.slow, pytest.mark.docker]

# The memory limit the model's own process sees: its cgroup's (v2 or v1), as a one-element list.
CGROUP_LIMIT = """
    import mlflow.pyfunc
    class M(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
                try:
                    with open(path) as handle:
                        limit = handle.read().strip()
                    return [limit for _ in model_input["x"]]
                except OSError:
                    pass
            return ["unknown" for _ in model_input["x"]]
    mlflow.models.set_model(M())
"""


@pytest.fixture(scope="module")
def engine() -> dict[str, str]:
    return {"DOCKER_HOST": start_engine()}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_dockerfile_context_is_built_by_the_engine_and_the_image_serves_the_model(sklearn_model: Path, sklearn_truth, home: Path,
                                                                                 tmp_path: Path, engine) -> None:
    context = tmp_path / "context"
    written = envforge("dockerfile", str(sklearn_model), "-o", str(context), "--base-image", BASE_IMAGE, home=home, env=engine)
    assert written.returncode == 0, written.output
    assert f"(base image {BASE_IMAGE})" in written.stdout and "build it with: docker build --network host" in written.stdout
    assert f"FROM {BASE_IMAGE}" in (context / "Dockerfile").read_text()
    # The command envforge printed, as a user would run it (with the engine's client library: no docker CLI here).
    command = shlex.split(written.stdout.split("build it with: ", 1)[1].splitlines()[0])
    build_args = dict(a.split("=", 1) for flag, a in zip(command, command[1:], strict=False) if flag == "--build-arg")
    assert command[-1] == str(context) and "--network" in command

    docker = client(engine["DOCKER_HOST"])
    name = f"envforge-test-exported:{uuid.uuid4().hex[:8]}"
    try:
        docker.images.build(path=str(context), tag=name, network_mode="host", buildargs=build_args, rm=True, forcerm=True)
        port = _free_port()
        container = docker.containers.run(name, command=["--port", str(port)], network_mode="host", detach=True)
        try:
            answer = post_when_up(f"http://127.0.0.1:{port}/invocations", (sklearn_model / "serving_input_example.json").read_bytes(),
                                   container)
            assert answer["predictions"] == sklearn_truth.tolist()  # the test's own model.predict, from the built image
        finally:
            container.remove(force=True)
    finally:
        try:
            docker.images.remove(name, force=True)
        except Exception:  # the build failed before tagging: nothing to remove
            pass


def test_without_base_image_the_default_is_python_minor_slim(sklearn_model: Path, home: Path, tmp_path: Path, engine) -> None:
    """No registry is reachable here, so the default base image (python:X.Y-slim of the logged Python) cannot be
    pulled: the exported Dockerfile names it, and verify says it is missing and how to pass another."""
    minor = ".".join(platform.python_version().split(".")[:2])  # the model was logged by this process's Python
    default = f"python:{minor}-slim"
    context = tmp_path / "context"
    written = envforge("dockerfile", str(sklearn_model), "-o", str(context), home=home, env=engine)
    assert written.returncode == 0, written.output
    assert f"(base image {default})" in written.stdout and f"FROM {default}" in (context / "Dockerfile").read_text()
    if client(engine["DOCKER_HOST"]).images.list(name=default):
        pytest.skip(f"the engine has {default}: the missing-default path cannot be shown here (`docker rmi {default}`)")
    run = envforge("verify", str(sklearn_model), "--backend", "docker", "--json", str(tmp_path / "r.json"), home=home, env=engine,
                   timeout=900)
    assert run.returncode == 3, run.output
    result = report(tmp_path / "r.json")
    assert f"The base image '{default}' is not in the Docker engine" in result["error"]["message"]
    assert "--base-image" in result["error"]["remedy"] and "Traceback" not in run.output
    assert not list((home / "envs").glob("docker-*/.envforge-state.json"))


def _cgroup_model(tmp_path: Path) -> Path:
    return save_code_model(tmp_path / "cgroup", CGROUP_LIMIT)


def test_memory_limits_the_container_and_keep_image_keeps_the_model_image(tmp_path: Path, home: Path, engine) -> None:
    model = _cgroup_model(tmp_path)
    docker = client(engine["DOCKER_HOST"])
    common = ("verify", str(model), "--backend", "docker", "--base-image", BASE_IMAGE)
    kept = envforge(*common, "--memory", "300m", "--keep-image", "--json", str(tmp_path / "k.json"), home=home, env=engine, timeout=1500)
    assert kept.returncode == 0, kept.output
    result = report(tmp_path / "k.json")
    assert result["sandbox"]["limits"]["memory"] == "300m"
    assert_same_as_truth(result, [str(300 * 1024**2)] * 3)  # what the model's own process read from its cgroup
    names = [n for n in result["image"]["kept"] if n.startswith("envforge-model:")]
    assert len(names) == 1, result["image"]
    try:
        assert docker.images.get(names[0]).id == result["image"]["model_image_id"]
    finally:
        docker.images.remove(names[0], force=True)

    default = envforge(*common, "--json", str(tmp_path / "d.json"), home=home, env=engine, timeout=1500)
    assert default.returncode == 0, default.output
    result = report(tmp_path / "d.json")
    assert result["env"]["reused"] is True and result["sandbox"]["limits"]["memory"] == "4g"
    assert_same_as_truth(result, [str(4 * 1024**3)] * 3)
    assert result["image"]["kept"] == []
    assert not [i for i in docker.images.list() if i.id == result["image"]["model_image_id"]]  # removed after the run


def _self_signed_ca(directory: Path, name: str) -> Path:
    directory.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
                    "-keyout", str(directory / "ca.key"), "-out", str(directory / "ca.pem")], check=True, capture_output=True)
    return directory / "ca.pem"


def test_ca_bundle_is_trusted_inside_the_env_image(sklearn_model: Path, home: Path, tmp_path: Path, engine) -> None:
    """A proxy's CA passed with --ca-bundle: the image's TLS stack (Python's default context there) trusts it;
    without it, another env (the bundle is part of the env's identity) that does not."""
    name = f"envforge test proxy CA {uuid.uuid4().hex[:8]}"
    pem = _self_signed_ca(tmp_path / "ca", name)
    probe = ("import ssl\n"
             "names = [v for c in ssl.create_default_context().get_ca_certs() for s in c['subject'] for k, v in s if k == 'commonName']\n"
             "print('trusted', sorted(n for n in names if n.startswith('envforge test')))\n")
    on = ("--backend", "docker", "--base-image", BASE_IMAGE)
    trusted = envforge("run", *on, "--ca-bundle", str(pem), str(sklearn_model), "--", "python", "-c", probe,
                       home=home, env=engine, timeout=1500)
    assert trusted.returncode == 0, trusted.output
    assert f"trusted [{name!r}]" in trusted.stdout, trusted.output
    plain = envforge("run", *on, str(sklearn_model), "--", "python", "-c", probe, home=home, env=engine, timeout=1500)
    assert plain.returncode == 0, plain.output
    assert "trusted []" in plain.stdout, plain.output
    envs = json.loads(envforge("cache", "list", "--json", home=home).stdout)["envs"]
    assert len(envs) == 2 and {e["backend"] for e in envs} == {"docker"}

    missing = envforge("verify", str(sklearn_model), *on, "--ca-bundle", str(tmp_path / "nope.pem"), home=home, env=engine)
    assert missing.returncode == 2 and "Traceback" not in missing.output, missing.output
    assert f"--ca-bundle {tmp_path / 'nope.pem'}: No such file or directory" in missing.output
    assert "Pass a readable PEM file of CA certificates" in missing.output
