"""--resolve and bisect on a real model that time broke: a scikit-learn 1.3.0 model logged by the test
(MLflow 2.11 on Python 3.11, numpy 1.26) whose requirements say just `mlflow`, `scikit-learn==1.3.0`
and `numpy`, its utc_time_created set to 2024-03-01, before numpy 2.0 (2024-06-16). Today's index
gives numpy 2, against which scikit-learn 1.3.0's compiled code fails to import; the index as it
stood on 2024-03-01 gives numpy 1.26.4. Real uv against the real package index: nothing mocked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.support.cache import cached_dir, digest
from tests.support.cli import envforge, report
from tests.support.models import record_digests_again

pytestmark = pytest.mark.slow



def _python311():
    """A CPython 3.11 this machine has (envforge's own discovery: pyenv, uv-managed, PATH), newest first: the
    numpy-1 logger's pins have wheels for 3.11."""
    from envforge.interpreters import discover

    return next((i for i in discover() if i.version.startswith("3.11.")), None)


LOGGER_PINS = ("mlflow==2.11.1", "scikit-learn==1.3.0", "numpy==1.26.4", "pandas==2.2.1", "setuptools==69.1.1")
REQUIREMENTS = ["mlflow", "scikit-learn==1.3.0", "numpy"]
LOGGED_AT = "2024-03-01 10:00:00.000000"
LOG = textwrap.dedent("""
    import sys
    import mlflow.sklearn
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, target = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=500).fit(features, target)
    mlflow.sklearn.save_model(model, sys.argv[1], input_example=features.iloc[[0, 50, 100]],
                              pip_requirements=sys.argv[2].split(","))
""")


def _build_logger(path: Path) -> None:
    import uv

    python = _python311().path
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    venv_python = str(path / "venv" / "bin" / "python")
    for argv in ([uv.find_uv_bin(), "venv", "--quiet", "--python", str(python), str(path / "venv")],
                 [uv.find_uv_bin(), "pip", "install", "--quiet", "--python", venv_python, *LOGGER_PINS],
                 [venv_python, "-c", LOG, str(path / "model"), ",".join(REQUIREMENTS)]):
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=1200)
        assert done.returncode == 0, f"{argv}: {done.stdout[-2000:]}{done.stderr[-3000:]}"
    mlmodel_path = path / "model" / "MLmodel"
    mlmodel = yaml.safe_load(mlmodel_path.read_text())
    mlmodel["utc_time_created"] = LOGGED_AT
    mlmodel_path.write_text(yaml.safe_dump(mlmodel))


@pytest.fixture(scope="module")
def numpy1_model() -> Path:
    """The logger venv and the model it logged (with its recorded predictions); cached per machine."""
    python = _python311()
    if python is None:
        pytest.skip("no CPython 3.11 on this machine for the numpy-1 logger: `uv python install 3.11` provides one")
    return cached_dir(f"numpy1-sklearn-py{python.version}-{digest(*LOGGER_PINS, *REQUIREMENTS, LOGGED_AT, LOG)}", _build_logger)


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("asof-home")


@pytest.fixture(scope="module")
def recorded(numpy1_model: Path, tmp_path_factory: pytest.TempPathFactory, shared_home: Path) -> Path:
    """A copy of the model with predictions recorded in its training env (the logger venv)."""
    model = Path(shutil.copytree(numpy1_model / "model", tmp_path_factory.mktemp("numpy1") / "model"))
    done = envforge("record", str(model), "--python", str(numpy1_model / "venv" / "bin" / "python"), home=shared_home)
    assert done.returncode == 0, done.output
    return model


def test_latest_fails_with_numpy_2_and_logged_passes(recorded: Path, tmp_path: Path, shared_home: Path) -> None:
    latest = envforge("verify", str(recorded), "--resolve", "latest", "--json", str(tmp_path / "latest.json"), home=shared_home)
    assert latest.returncode == 1, latest.output
    failed = report(tmp_path / "latest.json")
    assert failed["status"] == "failed" and "numpy" in failed["reason"], failed["reason"]
    assert failed["env"]["resolved_as_of"] is None and failed["env"]["resolution"]["mode"] == "latest"

    logged = envforge("verify", str(recorded), "--json", str(tmp_path / "logged.json"), "--junit", str(tmp_path / "j.xml"),
                      home=shared_home)  # the default
    assert logged.returncode == 0, logged.output
    passed = report(tmp_path / "logged.json")
    assert passed["status"] == "passed", passed["reason"]
    assert passed["env"]["resolved_as_of"] == "2024-03-01T23:59:59Z"
    assert passed["env"]["resolution"]["mode"] == "logged" and passed["env"]["resolution"]["explicit"] is False
    assert "resolved as of 2024-03-01T23:59:59Z" in logged.stdout
    assert "resolved as of: 2024-03-01T23:59:59Z (the default, --resolve logged" in (tmp_path / "j.xml").read_text()
    assert passed["env"]["key"] != failed["env"]["key"]
    state = json.loads((Path(passed["env"]["path"]) / ".envforge-state.json").read_text())
    assert "numpy==1.26.4" in state["installed"]


def test_bisect_names_numpy(recorded: Path, tmp_path: Path, shared_home: Path) -> None:
    run = envforge("bisect", str(recorded), "--json", str(tmp_path / "b.json"), home=shared_home, timeout=3000)
    assert run.returncode == 1, run.output
    result = json.loads((tmp_path / "b.json").read_text())
    assert result["verdict"] == "culprit", result["message"]
    culprit = result["culprit"]
    assert culprit["package"] == "numpy" and culprit["from"] == "1.26.4" and culprit["to"].startswith("2."), culprit
    assert culprit["pin"] == "numpy<2" and "pin `numpy<2` in requirements.txt" in run.stdout
    assert "fail to load" in result["message"] and result["from"]["outcome"] == "ok" and result["to"]["outcome"] == "load"
    assert "step 3:" in run.stderr  # a progress line per step
    assert result["good_day"] < "2026" and len(result["steps"]) == len([s for s in result["steps"] if "verdict" in s])


def test_a_pin_that_did_not_exist_yet_is_named(recorded: Path, tmp_path: Path, shared_home: Path) -> None:
    model = Path(shutil.copytree(recorded, tmp_path / "model"))
    (model / "requirements.txt").write_text("mlflow\nscikit-learn==1.5.0\nnumpy\n")  # 1.5.0: released 2024-05-21
    record_digests_again(model)
    run = envforge("verify", str(model), "--resolve", "2024-03-01", home=shared_home)
    assert run.returncode == 3, run.output
    text = " ".join(run.output.split())
    assert "scikit-learn" in text and "2024-03-01T23:59:59Z" in text and "v1.5.0" in text, text
    assert "Traceback" not in run.output


def test_a_date_before_the_package_existed(recorded: Path, tmp_path: Path, shared_home: Path) -> None:
    run = envforge("verify", str(recorded), "--resolve", "2010-01-01", home=shared_home)
    assert run.returncode == 3, run.output
    text = " ".join(run.output.split())
    assert "had been uploaded by 2010-01-01T23:59:59Z" in text and "--resolve latest" in text, text


def test_a_date_in_the_future_is_a_usage_error(recorded: Path, shared_home: Path) -> None:
    run = envforge("verify", str(recorded), "--resolve", "2999-01-01", home=shared_home)
    assert run.returncode == 2 and "in the future" in run.output and "Traceback" not in run.output, run.output


def test_virtualenv_backend_and_lock_resolve_as_logged(recorded: Path, tmp_path: Path, shared_home: Path) -> None:
    run = envforge("verify", str(recorded), "--backend", "virtualenv", "--resolve", "logged", "--json", str(tmp_path / "v.json"),
                   home=shared_home)
    assert run.returncode == 0, run.output
    result = report(tmp_path / "v.json")
    assert result["status"] == "passed" and result["env"]["resolved_as_of"] == "2024-03-01T23:59:59Z"
    state = json.loads((Path(result["env"]["path"]) / ".envforge-state.json").read_text())
    assert "numpy==1.26.4" in state["installed"]  # uv resolved as of the date, pip installed that set
    locked = envforge("lock", str(recorded), "-o", str(tmp_path / "lock.txt"), home=shared_home)
    assert locked.returncode == 0, locked.output
    text = (tmp_path / "lock.txt").read_text()
    assert "# resolved as of: 2024-03-01T23:59:59Z" in text and "numpy==1.26.4" in text


def test_bisect_on_a_model_that_never_worked(recorded: Path, tmp_path: Path, shared_home: Path) -> None:
    model = Path(shutil.copytree(recorded, tmp_path / "model"))
    (model / "model.pkl").write_bytes(b"not a pickle")  # the same envs as above: only the model is broken
    run = envforge("bisect", str(model), "--json", str(tmp_path / "b.json"), home=shared_home, timeout=1800)
    assert run.returncode == 1, run.output
    result = json.loads((tmp_path / "b.json").read_text())
    assert result["verdict"] == "never-worked" and result["culprit"] is None
    text = " ".join(run.stdout.split())
    assert "never worked" in text and "as of logged it fails to load" in text and "as of latest it fails to load" in text
    assert text.count("UnpicklingError") == 2 and result["from"]["outcome"] == result["to"]["outcome"] == "load", text


def test_bisect_between_two_dates_that_agree(recorded: Path, tmp_path: Path, shared_home: Path) -> None:
    run = envforge("bisect", str(recorded), "--from", "2024-03-01", "--to", "2024-03-08", "--json", str(tmp_path / "b.json"),
                   home=shared_home, timeout=1800)
    assert run.returncode == 0, run.output
    result = json.loads((tmp_path / "b.json").read_text())
    assert result["verdict"] == "agree" and result["from"]["outcome"] == "ok" and len(result["steps"]) == 2
    assert "behaves the same" in run.stdout


def test_python_api_takes_resolve(recorded: Path, shared_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import envforge

    monkeypatch.setenv("ENVFORGE_HOME", str(shared_home))
    result = envforge.verify(str(recorded), resolve="2024-03-01")  # the env of the other tests' logged day: reused
    assert result.status == "passed", result.reason
    assert result.to_dict()["env"]["resolved_as_of"] == "2024-03-01T23:59:59Z" and result.env_reused is True
    assert result.resolution is not None and result.resolution["explicit"] is True


def test_bisect_from_a_date_it_cannot_be_built_on_reports_no_bound(recorded: Path, tmp_path: Path, shared_home: Path) -> None:
    """Issue 30, point 1: scikit-learn==1.3.0 was not released by 2023-06-01, so nothing can be built as of that day.
    That is neither good nor bad: bisect used to take it as the good side and answer backwards after a dozen builds."""
    run = envforge("bisect", str(recorded), "--from", "2023-06-01", "--to", "2024-03-08", "--json", str(tmp_path / "b.json"),
                   home=shared_home, timeout=1800)
    assert run.returncode == 3, run.output  # the env, not the model
    result = json.loads((tmp_path / "b.json").read_text())
    assert result["verdict"] == "no-bound" and result["good_day"] is None and result["bad_day"] is None and result["culprit"] is None
    assert result["from"]["outcome"] == "build" and result["to"]["outcome"] == "ok"
    assert [s["verdict"] for s in result["steps"]] == ["from", "to"]  # no day was bisected
    text = " ".join(run.stdout.split())
    assert "as of --from 2023-06-01 the model's environment cannot be built" in text and "scikit-learn" in text
    assert "neither good nor bad" in text and "Pass a --from date on which it builds" in text
    assert "from 2024" not in text and "it worked as of" not in text  # no backwards answer


def test_bisect_on_a_model_logged_today_says_what_to_do_instead(recorded: Path, tmp_path: Path, shared_home: Path) -> None:
    import datetime

    model = Path(shutil.copytree(recorded, tmp_path / "model"))
    mlmodel = yaml.safe_load((model / "MLmodel").read_text())
    mlmodel["utc_time_created"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    (model / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    run = envforge("bisect", str(model), home=shared_home, timeout=600)
    assert run.returncode == 2, run.output
    text = " ".join(run.stderr.split())
    assert "no range of dates to search yet" in text and f"envforge verify {model} --resolve latest" in text, text
    assert "Traceback" not in run.output
