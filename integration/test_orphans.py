"""No orphans after SIGKILL (issue 13, item 3): `kill -9` of envforge alone, its pid and not its process
group, mid-build. Real envforge CLI, real uv building a real sdist whose in-tree PEP 517 backend sleeps
(no index needed for it: `requires = []`, served by --find-links), /proc scanned afterwards. Mid-predict
is in test_sandbox.py (test_sigkill_of_envforge_leaves_no_model_process, sandbox on and off) and, for
--backend docker, in test_sandbox_docker.py.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import psutil
import pytest

from tests.support.cli import envforge, report, start_envforge
from tests.support.models import record_digests_again, save_code_model
from tests.support.procs import wait_gone

pytestmark = pytest.mark.slow

MARKER = ".envforge-state.json"

BACKEND = '''
import os, time, zipfile, base64, hashlib
HERE = {here!r}

def get_requires_for_build_wheel(config_settings=None):
    return []

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    open(os.path.join(HERE, "started"), "w").write(str(os.getpid()))
    while os.path.exists(os.path.join(HERE, "slow")):
        time.sleep(0.2)
        open(os.path.join(HERE, "still-building"), "a").write(".")  # a survivor would go on writing
    name = "slowbuild-1.0-py3-none-any.whl"
    files = {{"slowbuild.py": b"VALUE = 1\\n",
             "slowbuild-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\\nName: slowbuild\\nVersion: 1.0\\n",
             "slowbuild-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\\nGenerator: t\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}}
    record = []
    for arc, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append("%s,sha256=%s,%d" % (arc, digest, len(data)))
    record.append("slowbuild-1.0.dist-info/RECORD,,")
    files["slowbuild-1.0.dist-info/RECORD"] = ("\\n".join(record) + "\\n").encode()
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as archive:
        for arc, data in files.items():
            archive.writestr(arc, data)
    return name
'''


def _sdist(links: Path, here: Path) -> None:
    """links/slowbuild-1.0.tar.gz: an sdist whose build sleeps while here/slow exists."""
    import tarfile

    src = links.parent / "slowbuild-1.0"
    src.mkdir(parents=True)
    (src / "backend.py").write_text(BACKEND.format(here=str(here)))
    (src / "pyproject.toml").write_text('[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n\n'
                                       '[project]\nname = "slowbuild"\nversion = "1.0"\n')
    (src / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: slowbuild\nVersion: 1.0\n")
    links.mkdir(parents=True)
    with tarfile.open(links / "slowbuild-1.0.tar.gz", "w:gz") as archive:
        archive.add(src, arcname="slowbuild-1.0")


def _tree(pid: int) -> list[psutil.Process]:
    return [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]


def _tied_to(root: Path) -> list[str]:
    """Live processes (all of /proc) whose command line, environment or working directory names `root`."""
    needle, found = str(root).encode(), []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) == os.getpid():
            continue
        try:
            base = Path("/proc") / pid
            texts = [(base / "cmdline").read_bytes(), (base / "environ").read_bytes(), os.readlink(base / "cwd").encode()]
            if (base / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
        except (OSError, IndexError):
            continue
        if any(needle in text for text in texts) and b"pytest" not in texts[0]:
            found.append(texts[0].replace(b"\0", b" ").decode(errors="replace")[:200])
    return found


@pytest.mark.parametrize("backend", ["uv", "virtualenv"])  # uv's and pip's sdist builds
def test_sigkill_of_envforge_alone_mid_build_leaves_no_process_and_the_next_verify_rebuilds(backend: str, tmp_path: Path) -> None:
    # A path no earlier run used: pip keeps the wheel it built from a `name-version.tar.gz` link in its own cache, keyed
    # by the link, and a rerun under the same basetemp (pytest-0 again) would install that instead of building.
    home, here, links = tmp_path / "home", tmp_path / "build-state", tmp_path / f"links-{uuid.uuid4().hex}"
    here.mkdir()
    _sdist(links, here)
    model = save_code_model(tmp_path / "model", "import mlflow\n\nclass M(mlflow.pyfunc.PythonModel):\n"
                            "    def predict(self, context, model_input, params=None):\n        return model_input\n\n"
                            "mlflow.models.set_model(M())\n")
    assert envforge("record", str(model), home=tmp_path / "record-home").returncode == 0
    requirements = model / "requirements.txt"
    requirements.write_text(requirements.read_text().rstrip("\n") + "\nslowbuild==1.0\n")
    record_digests_again(model)  # stands for a model logged with that pin (the artifact gate, issue 29)
    args = ("verify", str(model), "--backend", backend, "--sandbox", "off", "--find-links", str(links), "--allow-source-builds")

    (here / "slow").touch()
    proc = start_envforge(*args, home=home)
    tree: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 600
        while not (here / "still-building").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert (here / "still-building").exists(), proc.communicate()
        builder = psutil.Process(int((here / "started").read_text()))
        tree = _tree(proc.pid)
        assert builder in tree, "the sdist's build backend should run under envforge"
        os.kill(proc.pid, signal.SIGKILL)  # envforge alone: the others are in a session of their own
        proc.communicate()
        assert wait_gone(tree[1:]) == [], "outlived envforge"
        assert _tied_to(tmp_path) == []
        size = (here / "still-building").stat().st_size
        time.sleep(1)
        assert (here / "still-building").stat().st_size == size, "something still writes"
    finally:
        for p in [*tree, *(_tree(proc.pid) if proc.poll() is None else [])]:  # the test's own debris, if it failed
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
    half_built = [e for e in (home / "envs").iterdir() if not (e / MARKER).is_file()]
    assert half_built, "the kill should have left an unfinished env directory"

    (here / "slow").unlink()
    again = envforge(*args, "--json", str(tmp_path / "again.json"), home=home)
    assert again.returncode == 0, again.output
    env = report(tmp_path / "again.json")["env"]
    assert env["reused"] is False and (Path(env["path"]) / MARKER).is_file()
    assert list(Path(env["path"]).glob("lib/python*/site-packages/slowbuild.py")), "the sdist was built this time"
