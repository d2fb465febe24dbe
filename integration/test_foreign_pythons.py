"""Models logged by Pythons other than envforge's own, rebuilt by both backends with the logged interpreter.

The models are real: this machine's CPython 3.9 / 3.10 / 3.12 (pyenv's, uv-managed or on PATH, whichever
patch release it has) with MLflow 2.22.5 / 3.3.2 / 3.17.2
trained and saved them (tests/support/loggers.py, cached across runs), `envforge record --python`
recorded their predictions with that same interpreter, and `envforge verify` rebuilds each with uv
and with virtualenv + pip. Every pip that envforge runs here has a hostile pip config file in its
environment (PIP_CONFIG_FILE): if pip read it, the virtualenv builds could not resolve at all.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import CliRun, envforge, report
from tests.support.loggers import PINS, logger
from tests.support.models import record_digests_again

pytestmark = pytest.mark.slow

VERSIONS = tuple(PINS)
BACKENDS = ("uv", "virtualenv")
_LIST_DISTS = ("import json, importlib.metadata as m; "
               "print(json.dumps([[d.metadata['Name'], d.version] for d in m.distributions()]))")


class Foreign:
    """Each logged model is copied and recorded once, and verified once per backend, in one home."""

    def __init__(self, root: Path, pip_config: Path) -> None:
        self.root, self.home, self.pip_config = root, root / "home", pip_config
        self.home.mkdir()
        self._models: dict[str, Path] = {}
        self._runs: dict[tuple[str, str], tuple[CliRun, dict]] = {}

    def model(self, minor: str) -> Path:
        if minor not in self._models:
            log = logger(minor)
            model = self.root / f"model-{minor}"
            shutil.copytree(log.model, model)
            recorded = envforge("record", str(model), "--python", log.python, home=self.home)
            assert recorded.returncode == 0, recorded.output
            assert json.loads((model / "envforge-expectations.json").read_text())["python"] == log.version
            self._models[minor] = model
        return self._models[minor]

    def verify(self, minor: str, backend: str) -> tuple[CliRun, dict]:
        if (minor, backend) not in self._runs:
            out = self.root / f"{minor}-{backend}.json"
            run = envforge("verify", str(self.model(minor)), "--backend", backend, "--json", str(out),
                           home=self.home, env={"PIP_CONFIG_FILE": str(self.pip_config)})
            self._runs[minor, backend] = (run, report(out) if out.is_file() else {})
        return self._runs[minor, backend]


@pytest.fixture(scope="module")
def hostile_pip_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pip config that no build could survive: an index nobody serves and an unsatisfiable constraint."""
    root = tmp_path_factory.mktemp("pipconf")
    (root / "constraints.txt").write_text("scikit-learn<0.1\nnumpy<0.1\n")
    config = root / "pip.conf"
    config.write_text(f"[global]\nindex-url = http://127.0.0.1:9/simple\nconstraint = {root / 'constraints.txt'}\n")
    shown = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                           env={"PIP_CONFIG_FILE": str(config), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert "127.0.0.1:9" in shown.stdout, shown.stdout + shown.stderr  # pip does read this file when allowed to
    return config


@pytest.fixture(scope="module")
def foreign(tmp_path_factory: pytest.TempPathFactory, hostile_pip_config: Path) -> Foreign:
    return Foreign(tmp_path_factory.mktemp("foreign"), hostile_pip_config)


def _installed(env_path: str) -> set[tuple[str, str]]:
    """(normalized name, version) of every distribution in an env, read by the env's own Python."""
    done = subprocess.run([str(Path(env_path) / "bin" / "python"), "-I", "-c", _LIST_DISTS],
                          capture_output=True, text=True, timeout=120, check=True)
    return {(re.sub(r"[-_.]+", "-", name).lower(), version) for name, version in json.loads(done.stdout)}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("minor", VERSIONS)
def test_rebuilt_env_runs_the_logged_python(foreign: Foreign, minor: str, backend: str) -> None:
    run, result = foreign.verify(minor, backend)
    log = logger(minor)
    version, interpreter = log.version, log.interpreter
    assert run.returncode == 0, run.output
    assert result["status"] == "passed", result["reason"]
    env = result["env"]
    assert env["logged_python"] == version
    assert env["python"].split(".")[:2] == version.split(".")[:2]
    assert env["python"] == version  # the machine has the exact patch (it logged the model), so it must be the one used
    assert env["runner_python"] == version  # sys.version_info inside the rebuilt env, from the runner
    assert env["interpreter"] == f"exact match {version} from {interpreter.source}: {interpreter.path}"
    assert not [w for w in result["warnings"] if "Python" in w]
    assert f"python {version} (exact match {version} from {interpreter.source}" in run.stdout
    cfg = (Path(env["path"]) / "pyvenv.cfg").read_text()
    assert re.search(rf"^{'uv' if backend == 'uv' else 'virtualenv'} = \d", cfg, re.M), cfg  # made by that tool


@pytest.mark.parametrize("minor", VERSIONS)
def test_uv_and_virtualenv_install_the_same_packages(foreign: Foreign, minor: str) -> None:
    """Nothing is ignored: build_dependencies name pip, setuptools and wheel, so both envs have them."""
    sets = {}
    for backend in BACKENDS:
        run, result = foreign.verify(minor, backend)
        assert run.returncode == 0, run.output
        sets[backend] = _installed(result["env"]["path"])
    assert sets["uv"] == sets["virtualenv"], {"uv only": sets["uv"] - sets["virtualenv"],
                                              "virtualenv only": sets["virtualenv"] - sets["uv"]}
    names = {name for name, _ in sets["uv"]}
    assert {"pip", "setuptools", "wheel", "mlflow", "scikit-learn"} <= names
    sklearn = next(pin for pin in PINS[minor] if pin.startswith("scikit-learn=="))
    assert ("scikit-learn", sklearn.split("==")[1]) in sets["uv"]


def test_missing_patch_version_auto_warns_exact_fails(foreign: Foreign, tmp_path: Path, home: Path) -> None:
    """Logged with 3.10.2, which is not installed: auto uses the newest 3.10 with a warning in the report;
    --python-match exact then exits 3 naming 3.10.2 and what was found (and does not reuse auto's env)."""
    model = tmp_path / "model"
    shutil.copytree(foreign.model("3.10"), model)
    python_env = model / "python_env.yaml"
    logged = logger("3.10").version
    assert f"python: {logged}" in python_env.read_text()
    python_env.write_text(python_env.read_text().replace(f"python: {logged}", "python: 3.10.2"))
    record_digests_again(model)  # the edited copy stands for a model logged that way (the artifact gate, issue 29)

    auto = envforge("verify", str(model), "--json", str(tmp_path / "auto.json"), home=home)
    assert auto.returncode == 0, auto.output
    result = report(tmp_path / "auto.json")
    used = result["env"]["python"]
    assert result["status"] == "passed" and result["env"]["logged_python"] == "3.10.2"
    assert used.startswith("3.10.") and used != "3.10.2" and result["env"]["runner_python"] == used
    assert result["env"]["interpreter"].startswith(f"no 3.10.2 installed; using {used} (same minor)")
    assert f"The model was logged with Python 3.10.2 but {used} will be used." in result["warnings"]
    assert "warning:" in auto.stdout and "3.10.2" in auto.stdout

    exact = envforge("verify", str(model), "--python-match", "exact", "--json", str(tmp_path / "exact.json"), home=home)
    assert exact.returncode == 3, exact.output
    assert "No Python 3.10.2 interpreter is installed (found: " in exact.output and used in exact.output
    assert "Traceback" not in exact.output
    failed = report(tmp_path / "exact.json")
    assert failed["exit_code"] == 3 and failed["error"]["kind"] == "InterpreterNotFound"
    assert "3.10.2" in failed["error"]["message"] and used in failed["error"]["message"]
