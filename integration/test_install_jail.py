"""Install steps keep the network but not the user's secrets (issue 13; envforge/execution/install_jail.py).

A real sdist whose in-tree PEP 517 backend is the attack: while uv builds it, it reads a fake
~/.aws/credentials and connects to a Unix socket standing for the Docker engine's (the test's own server,
counting connections), and writes what it saw into the module it builds. With the default sandbox the
built module saw neither; with --sandbox off (the control, which shows the attack works) it saw both.
The rest of the env (mlflow and friends) still comes from the index and uv's cache: the network stays.
"""

from __future__ import annotations

import os
import socket
import tarfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import envforge, report
from tests.support.models import save_code_model

pytestmark = pytest.mark.slow

REAL_HOME = os.path.expanduser("~")
SECRET = "aws_secret_access_key = ENVFORGE-TEST-SECRET-4711"

BACKEND = '''
import base64, hashlib, os, socket, zipfile
NAME, VERSION, SOCK = {name!r}, {version!r}, {sock!r}

def get_requires_for_build_wheel(config_settings=None):
    return []

def _seen():
    seen = {{}}
    try:
        seen["credentials"] = open(os.path.expanduser("~/.aws/credentials")).read()
    except OSError as exc:
        seen["credentials"] = "unreadable: %s" % type(exc).__name__
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(SOCK)
        s.sendall(b"hello")
        s.close()
        seen["socket"] = "connected"
    except OSError as exc:
        seen["socket"] = "refused: %s" % type(exc).__name__
    return seen

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    dist = "%s-%s.dist-info" % (NAME, VERSION)
    files = {{NAME + ".py": ("SEEN = %r\\n" % (_seen(),)).encode(),
             dist + "/METADATA": ("Metadata-Version: 2.1\\nName: %s\\nVersion: %s\\n" % (NAME, VERSION)).encode(),
             dist + "/WHEEL": b"Wheel-Version: 1.0\\nGenerator: t\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}}
    record = []
    for arc, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append("%s,sha256=%s,%d" % (arc, digest, len(data)))
    record.append(dist + "/RECORD,,")
    files[dist + "/RECORD"] = ("\\n".join(record) + "\\n").encode()
    name = "%s-%s-py3-none-any.whl" % (NAME, VERSION)
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as archive:
        for arc, data in files.items():
            archive.writestr(arc, data)
    return name
'''


def _sdist(links: Path, name: str, version: str, sock: Path) -> None:
    src = links.parent / f"{name}-{version}"
    src.mkdir(parents=True)
    (src / "backend.py").write_text(BACKEND.format(name=name, version=version, sock=str(sock)))
    (src / "pyproject.toml").write_text('[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n\n'
                                       f'[project]\nname = "{name}"\nversion = "{version}"\n')
    (src / "PKG-INFO").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    links.mkdir(parents=True, exist_ok=True)
    with tarfile.open(links / f"{name}-{version}.tar.gz", "w:gz") as archive:
        archive.add(src, arcname=f"{name}-{version}")


@pytest.fixture
def engine_socket(tmp_path: Path) -> Iterator[tuple[Path, list[bytes]]]:
    """A Unix socket server standing for a container engine's: it records every connection it gets."""
    path = Path("/tmp") / f"ef-engine-{uuid.uuid4().hex[:8]}.sock"  # short: AF_UNIX paths are limited to 108 bytes
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(8)
    got: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            got.append(conn.recv(64))
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield path, got
    finally:
        server.close()
        path.unlink(missing_ok=True)


def _peeked(result: dict, name: str) -> str:
    [module] = Path(result["env"]["path"]).glob(f"lib/python*/site-packages/{name}.py")
    return module.read_text()


def test_an_sdists_build_code_sees_no_credentials_and_no_engine_socket(engine_socket: tuple[Path, list[bytes]],
                                                                      tmp_path: Path) -> None:
    sock, connections = engine_socket
    user_home = tmp_path / "user"
    (user_home / ".aws").mkdir(parents=True)
    (user_home / ".aws" / "credentials").write_text(f"[default]\n{SECRET}\n")
    nonce = uuid.uuid4().hex[:8]  # a new sdist each run: uv's cache must not serve a wheel built by an earlier one
    links = tmp_path / "links"
    model = save_code_model(tmp_path / "model", "import mlflow\n\nclass M(mlflow.pyfunc.PythonModel):\n"
                            "    def predict(self, context, model_input, params=None):\n        return model_input\n\n"
                            "mlflow.models.set_model(M())\n")
    env = {"HOME": str(user_home), "PYENV_ROOT": os.environ.get("PYENV_ROOT", f"{REAL_HOME}/.pyenv"),
           "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR", f"{REAL_HOME}/.cache/uv"), "DOCKER_HOST": f"unix://{sock}"}
    base_requirements = (model / "requirements.txt").read_text().rstrip("\n")

    runs = {}
    for mode, name in (("off", f"peekoff{nonce}"), ("auto", f"peekon{nonce}")):
        _sdist(links, name, "1.0", sock)
        (model / "requirements.txt").write_text(f"{base_requirements}\n{name}==1.0\n")
        out = tmp_path / f"{mode}.json"
        run = envforge("verify", str(model), "--sandbox", mode, "--find-links", str(links), "--allow-source-builds", "--json", str(out),
                       home=tmp_path / f"home-{mode}", env=env, timeout=900)
        assert run.returncode == 0, run.output  # unverified (nothing recorded), but built and run
        runs[mode] = (report(out), name, len(connections))

    control, control_name, after_control = runs["off"]
    assert SECRET in _peeked(control, control_name) and "'socket': 'connected'" in _peeked(control, control_name)
    assert after_control == 1  # the control's build did reach the "engine": the attack works when unconfined

    confined, confined_name, after_confined = runs["auto"]
    seen = _peeked(confined, confined_name)
    assert SECRET not in seen and "'socket': 'refused" in seen, seen
    assert after_confined == after_control, "the confined build reached the engine socket"
    assert (user_home / ".aws" / "credentials").read_text() == f"[default]\n{SECRET}\n"  # masked, not touched
    assert confined["sandbox"]["installs"] == "install steps run with the network, with credentials and container sockets hidden"
    assert control["sandbox"]["installs"].startswith("install steps run unconfined (--sandbox off)")
