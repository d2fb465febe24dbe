"""The docker backend against a real engine (scripts/setup-docker.sh) and a base image made with
debootstrap: models verify in a container with no network, the image is reused, declared apt
packages are installed, the image kept with --tag serves the model, a dead engine is exit 3."""

from __future__ import annotations

import json
import platform
import shutil
import socket
import textwrap
import threading
import uuid
from pathlib import Path

import pytest

from tests.support.cli import envforge, report
from tests.support.docker import BASE_IMAGE, client, image_python_version, post_when_up, start_engine, start_podman
from tests.support.models import make_wheel, pinned_requirements, record_digests_again, save_code_model
from tests.support.oracle import assert_same_as_truth

pytestmark = [pytest.mark.slow, pytest.mark.docker]

DOUBLE = """
    import mlflow.pyfunc
    class M(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return model_input["x"] * 2
    mlflow.models.set_model(M())
"""


@pytest.fixture(scope="module")
def engine() -> dict[str, str]:
    return {"DOCKER_HOST": start_engine()}


def verify(model: Path, home: Path, engine: dict[str, str], report_path: Path, *extra: str):
    return envforge("verify", str(model), "--backend", "docker", "--base-image", BASE_IMAGE, "--json", str(report_path),
                    *extra, home=home, env=engine, timeout=1500)


def record(model: Path, home: Path, **env: str) -> None:
    recorded = envforge("record", str(model), home=home, env=env)
    assert recorded.returncode == 0, recorded.output


def test_sklearn_model_passes_in_docker_and_reuses_its_image(sklearn_model: Path, sklearn_truth, home: Path, tmp_path: Path,
                                                            engine) -> None:
    record(sklearn_model, home)
    first = verify(sklearn_model, home, engine, tmp_path / "1.json")
    assert first.returncode == 0, first.output
    result = report(tmp_path / "1.json")
    assert result["status"] == "passed" and result["backend"] == "docker"
    assert_same_as_truth(result, sklearn_truth)  # the container's answer against the test's own model.predict
    image_python = image_python_version(engine["DOCKER_HOST"])
    assert result["env"]["runner_python"] == image_python  # the image's Python ran the model, not the host's
    assert result["image"]["env_image"].startswith("envforge-env:") and result["image"]["base_image"] == BASE_IMAGE
    logged = platform.python_version()  # MLflow logged the model with the test's own interpreter
    if logged != image_python:
        assert any(f"logged with Python {logged}" in w for w in result["warnings"]), result["warnings"]
        assert f"logged with Python {logged}" in first.stdout  # the console shows the Python warning too
    second = verify(sklearn_model, home, engine, tmp_path / "2.json")
    assert second.returncode == 0, second.output
    again = report(tmp_path / "2.json")
    assert again["status"] == "passed" and again["env"]["reused"] is True and again["image"]["env_image_built"] is False
    assert again["image"]["env_image_id"] == result["image"]["env_image_id"]
    assert next(s for s in again["steps"] if s["name"] == "build")["detail"] == "reused"


def test_tagged_image_serves_the_recorded_predictions(sklearn_model: Path, home: Path, tmp_path: Path, engine) -> None:
    record(sklearn_model, home)
    name = f"envforge-test-served:{uuid.uuid4().hex[:8]}"
    run = verify(sklearn_model, home, engine, tmp_path / "r.json", "--tag", name)
    assert run.returncode == 0, run.output
    assert report(tmp_path / "r.json")["image"]["tag"] == name
    docker = client(engine["DOCKER_HOST"])
    port = _free_port()
    container = docker.containers.run(name, command=["--port", str(port)], network_mode="host", detach=True)
    try:
        body = (sklearn_model / "serving_input_example.json").read_bytes()
        answer = post_when_up(f"http://127.0.0.1:{port}/invocations", body, container, deadline=120.0)
        expected = json.loads((sklearn_model / "envforge-expectations.json").read_text())["examples"][0]["prediction"]
        assert answer["predictions"] == expected["data"]
        assert container.attrs["Config"]["User"] == "10001"  # the served model does not run as root
    finally:
        container.remove(force=True)
        docker.images.remove(name)


def test_code_path_wheel_model_passes_in_docker(tmp_path: Path, home: Path, engine) -> None:
    helper = "def triple(values):\n    return values * 3\n"
    source = tmp_path / "src"
    source.mkdir()
    (source / "ef_private_helper.py").write_text(helper)
    wheel = make_wheel(tmp_path / "dist", "ef_private_helper", "0.1.0", helper)
    model = save_code_model(tmp_path / "model", """
        import mlflow.pyfunc
        class M(mlflow.pyfunc.PythonModel):
            def predict(self, context, model_input, params=None):
                import ef_private_helper
                return ef_private_helper.triple(model_input["x"])
        mlflow.models.set_model(M())
    """, code_paths=[str(wheel)])
    record(model, home, PYTHONPATH=str(source))
    run = verify(model, home, engine, tmp_path / "r.json")
    assert run.returncode == 0, run.output
    result = report(tmp_path / "r.json")
    assert result["status"] == "passed"
    state = json.loads((Path(result["env"]["path"]) / ".envforge-state.json").read_text())
    assert "ef_private_helper==0.1.0" in state["installed"]  # installed in the image, found by the probe


def test_the_container_has_no_network(tmp_path: Path, home: Path, engine) -> None:
    """The same connection succeeds on the host (record) and fails in the container (verify)."""
    connections: list[object] = []
    listener = socket.create_server(("0.0.0.0", 0))
    port = listener.getsockname()[1]
    threading.Thread(target=_accept, args=(listener, connections), daemon=True).start()
    model = save_code_model(tmp_path / "model", f"""
        import socket
        import mlflow.pyfunc
        class M(mlflow.pyfunc.PythonModel):
            def predict(self, context, model_input, params=None):
                socket.create_connection(({_host_ip()!r}, {port}), timeout=10).close()
                return model_input["x"] * 2
        mlflow.models.set_model(M())
    """)
    record(model, home)
    seen = len(connections)
    assert seen >= 1  # the host can reach the listener
    run = verify(model, home, engine, tmp_path / "r.json")
    assert run.returncode == 1, run.output
    result = report(tmp_path / "r.json")
    assert result["status"] == "failed" and result["model_error"]["stage"] == "predict"
    assert result["model_error"]["type"] in ("OSError", "ConnectionRefusedError", "TimeoutError"), result["model_error"]
    assert any(w in result["model_error"]["message"].lower() for w in ("unreachable", "refused")), result["model_error"]
    assert "model error" in run.stdout
    assert len(connections) == seen  # nothing reached the host from the container
    listener.close()


def test_declared_apt_package_is_installed_in_the_image(tmp_path: Path, home: Path, engine) -> None:
    import mlflow.pyfunc
    import pandas as pd

    code = tmp_path / "jq_model.py"
    code.write_text(textwrap.dedent("""
        import json, subprocess
        import mlflow.pyfunc
        class M(mlflow.pyfunc.PythonModel):
            def predict(self, context, model_input, params=None):
                values = json.dumps([float(v) for v in model_input["x"]])
                out = subprocess.run(["jq", "-c", "--argjson", "v", values, "-n", "$v | map(. * 10 + 1)"],
                                     capture_output=True, text=True, check=True).stdout
                return json.loads(out)
        mlflow.models.set_model(M())
    """))
    apt = tmp_path / "apt.txt"
    apt.write_text("# what predict() runs\njq\n")
    model = tmp_path / "model"
    mlflow.pyfunc.save_model(str(model), python_model=str(code), artifacts={"apt": str(apt)},
                             input_example=pd.DataFrame({"x": [1.0, 2.0, 3.0]}), pip_requirements=pinned_requirements())
    assert (model / "artifacts" / "apt.txt").is_file()
    record(model, home)  # the host has jq
    run = verify(model, home, engine, tmp_path / "r.json")
    assert run.returncode == 0, run.output
    result = report(tmp_path / "r.json")
    assert result["status"] == "passed"
    assert (Path(result["env"]["path"]) / "Dockerfile").read_text().count('"envforge-apt", "jq"') == 1
    # Without the declaration the base image has no jq: the same model fails (the env image of
    # test_the_container_has_no_network's requirements, so this costs no install).
    bare = Path(shutil.copytree(model, tmp_path / "bare"))
    (bare / "artifacts" / "apt.txt").write_text("# nothing declared\n")  # removed, it would be a missing declared artifact
    record_digests_again(bare)
    failed = verify(bare, home, engine, tmp_path / "bare.json")
    assert failed.returncode == 1, failed.output
    assert report(tmp_path / "bare.json")["model_error"]["type"] == "FileNotFoundError"


def test_a_dead_docker_host_is_exit_3_with_the_remedy(sklearn_model: Path, home: Path, tmp_path: Path) -> None:
    dead = f"unix://{tmp_path}/no-engine.sock"
    run = envforge("verify", str(sklearn_model), "--backend", "docker", "--json", str(tmp_path / "r.json"),
                   home=home, env={"DOCKER_HOST": dead})
    assert run.returncode == 3, run.output
    assert f"Cannot reach a Docker engine at {dead}" in run.output
    assert "DOCKER_HOST" in run.output and "Traceback" not in run.output
    result = report(tmp_path / "r.json")
    assert result["status"] == "error" and result["error"]["kind"] == "EnvBuildError"


def test_a_missing_base_image_and_a_failing_build_step_are_exit_3_with_the_step_log(sklearn_model: Path, home: Path,
                                                                                    tmp_path: Path, engine) -> None:
    missing = envforge("verify", str(sklearn_model), "--backend", "docker", "--base-image", "envforge-no-such-base:1",
                       home=home, env=engine)
    assert missing.returncode == 3, missing.output
    assert "'envforge-no-such-base:1' is not in the Docker engine" in missing.output and "--base-image" in missing.output
    requirements = sklearn_model / "requirements.txt"
    requirements.write_text(requirements.read_text().rstrip("\n") + "\nenvforge-no-such-dist==1.0\n")
    failed = verify(sklearn_model, home, engine, tmp_path / "r.json")
    assert failed.returncode == 3, failed.output
    result = report(tmp_path / "r.json")
    assert "failed at Step" in result["error"]["message"] and "/tools/bin/uv" in result["error"]["message"]
    assert "envforge-no-such-dist" in result["error"]["message"].split("failed at Step", 1)[1]  # the step's log tail
    assert "pinned version exists on the package index" in result["error"]["remedy"]
    assert (Path(home) / "envs").is_dir() and not list((Path(home) / "envs").glob("docker-*/.envforge-state.json"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _host_ip() -> str:
    """This machine's address on its default route (not loopback): reachable with any network but none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("198.51.100.1", 9))  # no packet is sent: this only picks the outgoing interface
        return str(sock.getsockname()[0])


def _accept(listener: socket.socket, connections: list[object]) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        connections.append(conn)
        conn.close()


def test_index_credentials_reach_the_installer_but_no_layer_or_history(tmp_path: Path, engine) -> None:
    """A real build of an env image from a private index whose URL carries a token: the package is
    installed (so the token was used), and the final image's history and config never contain it."""
    from envforge.backends.base import BuildOptions
    from envforge.backends.docker import uv_version
    from envforge.backends.docker.build import build_image
    from envforge.backends.docker.context import env_context
    from envforge.spec import EnvSpec
    from tests.support.pep503 import serve

    token = f"tok-{uuid.uuid4().hex}"
    wheel = make_wheel(tmp_path / "dist", "ef_private_pkg", "0.1.0", "def seven():\n    return 7\n")
    with serve(tmp_path / "index", [wheel]) as index:
        url = index.with_credentials(f"ci:{token}")
        spec = EnvSpec(backend="docker", python=None, python_source="none", build_dependencies=(),
                       requirements=("ef-private-pkg==0.1.0",), constraints=(), index_options=("--extra-index-url", url),
                       code_wheels=(), file_hashes=())
        ctx = env_context(spec, tmp_path, BuildOptions(), BASE_IMAGE, uv_version())
        assert ctx.secret_args and token not in ctx.dockerfile
        docker = client(engine["DOCKER_HOST"])
        tag = f"envforge-test-secret:{token[-8:]}"
        progress: list[str] = []
        image_id = build_image(docker, ctx, tag, timeout=900, log=progress.append)
        assert "/simple/ef-private-pkg/" in index.requests()
    try:
        out = docker.containers.run(tag, entrypoint=["/opt/envforge/venv/bin/python", "-c", "import ef_private_pkg; print(ef_private_pkg.seven())"],
                                    network_mode="none", remove=True)
        assert out.strip() == b"7"
        image = docker.images.get(image_id)
        exposed = json.dumps(image.history()) + json.dumps(image.attrs) + "\n".join(progress)
        assert token not in exposed
        assert "UV_EXTRA_INDEX_URL" not in json.dumps(image.attrs["Config"])
    finally:
        docker.images.remove(tag)


def test_run_in_a_container_of_the_env_image_with_the_model_mounted(sklearn_model: Path, home: Path, engine) -> None:
    """`envforge run --backend docker`: the env image's Python, the model read-only at $MODEL_DIR,
    no network, the image's user, and the command's exit code passed through."""
    probe = ("import os, socket, sys, sklearn\n"
             "d = os.environ['MODEL_DIR']\n"
             "print('prefix', sys.prefix, 'uid', os.getuid(), 'sklearn', sklearn.__version__)\n"
             "print('model', sorted(os.listdir(d)))\n"
             "print('writable', os.access(d, os.W_OK))\n"
             "print('interfaces', sorted(name for _, name in socket.if_nameindex()))\n"
             "raise SystemExit(7)\n")
    run = envforge("run", "--backend", "docker", "--base-image", BASE_IMAGE, str(sklearn_model), "--", "python", "-c", probe,
                   home=home, env=engine, timeout=1500)
    assert run.returncode == 7, run.output
    assert "prefix /opt/envforge/venv uid 10001" in run.stdout
    assert "'MLmodel'" in run.stdout and "'input_example.json'" in run.stdout
    assert "writable False" in run.stdout
    assert "interfaces ['lo']" in run.stdout  # no network but loopback


def test_podmans_docker_compatible_socket_builds_verifies_and_reuses(sklearn_model: Path, home: Path, tmp_path: Path) -> None:
    """The same backend against Podman (its API service on a socket as DOCKER_HOST), not dockerd."""
    podman = {"DOCKER_HOST": start_podman()}
    engine_client = client(podman["DOCKER_HOST"])
    for image in engine_client.images.list(name="envforge-env"):  # Podman's store outlives a run: start cold
        engine_client.images.remove(image.id, force=True)
    record(sklearn_model, home)
    first = verify(sklearn_model, home, podman, tmp_path / "1.json")
    assert first.returncode == 0, first.output
    result = report(tmp_path / "1.json")
    assert result["status"] == "passed" and result["env"]["runner_python"] == image_python_version(podman["DOCKER_HOST"])
    assert result["image"]["env_image_built"] is True
    version = engine_client.version()
    assert any("podman" in str(c.get("Name", "")).lower() for c in version.get("Components", [])), version
    second = verify(sklearn_model, home, podman, tmp_path / "2.json")
    assert second.returncode == 0, second.output
    assert report(tmp_path / "2.json")["env"]["reused"] is True


def test_cache_prune_removes_a_docker_envs_image_too(sklearn_model: Path, home: Path, tmp_path: Path, engine) -> None:
    """The env image lives in the engine, not in the env directory: `cache prune` removes both (the backend's
    `remove` hook). A base image under a name of its own gives this env a key no other test builds."""
    docker = client(engine["DOCKER_HOST"])
    base = f"envforge-test-prune-base:{uuid.uuid4().hex[:8]}"
    docker.images.get(BASE_IMAGE).tag(*base.split(":"))
    try:
        run = envforge("verify", str(sklearn_model), "--backend", "docker", "--base-image", base, "--json", str(tmp_path / "v.json"),
                       home=home, env=engine, timeout=1500)
        assert run.returncode == 0, run.output
        image = report(tmp_path / "v.json")["image"]["env_image"]
        assert docker.images.get(image).labels.get("org.envforge.key")
        env_path = Path(report(tmp_path / "v.json")["env"]["path"])

        pruned = envforge("cache", "prune", "--all", "--json", home=home, env=engine)
        assert pruned.returncode == 0, pruned.output
        summary = json.loads(pruned.stdout)
        assert [e["path"] for e in summary["removed"]] == [str(env_path)] and summary["warnings"] == []
        assert not env_path.exists()
        import docker as sdk

        with pytest.raises(sdk.errors.ImageNotFound):
            docker.images.get(image)
    finally:
        docker.images.remove(base)
