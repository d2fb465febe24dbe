"""The debug commands (run, shell, diff, serve-check, lock) under --backend virtualenv and --backend conda,
as integration/test_debug_commands.py drives them under uv: real virtualenv builds, real py-rattler solves
from the local conda channel, real MLflow scoring servers."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cli import envforge, report
from tests.support.oracle import assert_same_as_truth

pytestmark = pytest.mark.slow


@dataclass
class Case:
    backend: str
    model: Path
    home: Path
    truth: Any
    proof: list[str]    # a command only this backend's env answers with `answer`
    answer: str


def _virtualenv_case(request: pytest.FixtureRequest, root: Path) -> Case:
    template, truth = request.getfixturevalue("sklearn_model_template"), request.getfixturevalue("sklearn_truth")
    model = root / "iris"
    shutil.copytree(template, model)
    recorded = envforge("record", str(model), home=root / "home")
    assert recorded.returncode == 0, recorded.output
    # virtualenv writes its own version into pyvenv.cfg (uv writes `uv = ...`): the env is virtualenv's.
    probe = "import sys, pathlib; print('creator', pathlib.Path(sys.prefix, 'pyvenv.cfg').read_text().split('virtualenv = ')[1].split()[0])"
    import virtualenv

    return Case("virtualenv", model, root / "home", truth, ["python", "-c", probe], f"creator {virtualenv.__version__}")


def _conda_case(request: pytest.FixtureRequest, root: Path) -> Case:
    from tests.support.conda_models import GREETING, fake_ef_hello, save_conda_model

    model = save_conda_model(root / "model", [request.getfixturevalue("conda_channel")])
    training_bin = fake_ef_hello(root / "training-bin")  # the training env's ef-hello, for `record` (run in this process's env)
    recorded = envforge("record", str(model), home=root / "home",
                        env={"PATH": f"{training_bin}:{Path(sys.executable).parent}:/usr/bin:/bin"})
    assert recorded.returncode == 0, recorded.output
    assert shutil.which("ef-hello") is None  # only the rebuilt conda env has it
    return Case("conda", model, root / "home", [f"{GREETING}: {x}" for x in [1.0, 2.0, 3.0]], ["ef-hello"], GREETING)


@pytest.fixture(scope="module", params=["virtualenv", pytest.param("conda", marks=pytest.mark.conda)])
def case(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Case:
    """A recorded model for the backend and one ENVFORGE_HOME its tests share (one env built per backend)."""
    root = tmp_path_factory.mktemp(f"debug-{request.param}")
    return (_virtualenv_case if request.param == "virtualenv" else _conda_case)(request, root)


def test_run_passes_the_exit_code_through_and_runs_in_the_backends_env(case: Case) -> None:
    on = ("--backend", case.backend)
    code = envforge("run", str(case.model), *on, "--", "python", "-c", "import sys; sys.exit(7)", home=case.home)
    assert code.returncode == 7, code.output
    inside = envforge("run", str(case.model), *on, "--", "python", "-c", "import os, sys; print(os.environ['MODEL_DIR']); print(sys.prefix)",
                      home=case.home)
    assert inside.returncode == 0, inside.output
    model_dir, prefix = inside.stdout.split()
    assert model_dir == str(case.model) and Path(prefix).parent == case.home / "envs"
    assert Path(prefix).name.startswith(f"{case.backend}-")
    listed = json.loads(envforge("cache", "list", "--json", home=case.home).stdout)["envs"]
    assert [(e["path"], e["backend"]) for e in listed] == [(prefix, case.backend)]
    proof = envforge("run", str(case.model), *on, "--", *case.proof, home=case.home)
    assert proof.returncode == 0 and case.answer in proof.stdout, proof.output


def test_shell_and_its_python_repl_are_in_the_backends_env(case: Case) -> None:
    environ = {**os.environ, "ENVFORGE_HOME": str(case.home), "SHELL": "/bin/sh"}
    shell = subprocess.run([sys.executable, "-m", "envforge", "shell", str(case.model), "--backend", case.backend],
                           input=f'echo "dir=$MODEL_DIR"; {shlex.join(case.proof)}; exit 4\n', capture_output=True, text=True,
                           env=environ, timeout=900)
    assert shell.returncode == 4, shell.stdout + shell.stderr
    assert f"dir={case.model}" in shell.stdout and case.answer in shell.stdout, shell.stdout + shell.stderr
    repl = subprocess.run([sys.executable, "-m", "envforge", "shell", str(case.model), "--backend", case.backend, "--python"],
                          input="import sys; print('prefix=' + sys.prefix)\n", capture_output=True, text=True, env=environ, timeout=900)
    assert repl.returncode == 0, repl.stdout + repl.stderr
    assert f"prefix={case.home / 'envs' / case.backend}-" in repl.stdout, repl.stdout + repl.stderr


def test_diff_compares_the_recording_with_the_backends_env(case: Case) -> None:
    import numpy

    run = envforge("diff", str(case.model), "--backend", case.backend, "--json", home=case.home)
    assert run.returncode == 0, run.output
    diff = json.loads(run.stdout)
    assert diff["env"]["backend"] == case.backend and diff["recorded"] is True
    assert Path(diff["env"]["path"]).name.startswith(f"{case.backend}-")
    row = next(p for p in diff["packages"] if p["name"] == "numpy")  # pinned to this process's numpy by the model
    assert (row["recorded"], row["installed"], row["status"]) == (numpy.__version__, numpy.__version__, "same")
    console = envforge("diff", str(case.model), "--backend", case.backend, home=case.home)
    assert console.returncode == 0, console.output
    assert f"({case.backend}, python" in console.stdout and "verdict:" in console.stdout
    assert f" {numpy.__version__} " not in console.stdout and "do not differ not shown (--all" in console.stdout  # by default
    every = envforge("diff", str(case.model), "--backend", case.backend, "--all", home=case.home)
    assert every.returncode == 0, every.output
    assert "verdict:" in every.stdout and numpy.__version__ in every.stdout  # --all: every row, the same ones too


def test_serve_check_serves_from_the_backends_env(case: Case, tmp_path: Path) -> None:
    served = envforge("serve-check", str(case.model), "--backend", case.backend, "--json", str(tmp_path / "s.json"), home=case.home)
    assert served.returncode == 0, served.output
    result = report(tmp_path / "s.json")
    assert result["status"] == "passed" and result["backend"] == case.backend
    assert result["examples"][0]["http_status"] == 200
    assert [s["name"] for s in result["steps"]] == ["resolve", "build", "serve", "request", "compare"]
    assert Path(result["env"]["path"]).name.startswith(f"{case.backend}-")
    assert f"PASSED {case.model}" in served.stdout, served.output


def test_lock_writes_the_backends_lock_and_verify_installs_it(case: Case, tmp_path: Path) -> None:
    lock = tmp_path / "the.lock"
    locked = envforge("lock", str(case.model), "--backend", case.backend, "-o", str(lock), home=case.home)
    assert locked.returncode == 0, locked.output
    assert f"-> {lock}" in locked.stdout, locked.output
    fresh = tmp_path / "fresh-home"
    if case.backend == "conda":  # a conda-lock file: conda records and pip records, each with its hash
        packages = yaml.safe_load(lock.read_text())["package"]
        assert {"python", "pip", "ef-hello"} <= {p["name"] for p in packages if p["manager"] == "conda"}
        assert "mlflow" in {p["name"] for p in packages if p["manager"] == "pip"}
        assert all(len(p["hash"]["sha256"]) == 64 for p in packages)
        assert "conda and" in locked.stdout and "pip packages with hashes" in locked.stdout
        args = ("--lockfile", str(lock))
    else:  # exact requirements: every package pinned, with hashes
        text = lock.read_text()
        import sklearn

        assert f"scikit-learn=={sklearn.__version__} \\" in text and "--hash=sha256:" in text
        args = ("--lock", str(lock))
    verified = envforge("verify", str(case.model), "--backend", case.backend, *args, "--json", str(tmp_path / "v.json"), home=fresh)
    assert verified.returncode == 0, verified.output
    result = report(tmp_path / "v.json")
    assert result["status"] == "passed" and result["env"]["reused"] is False and result["backend"] == case.backend
    assert_same_as_truth(result, case.truth)  # an oracle independent of the runner, from the env the lock built
