"""Issue 29, items 3 and 4, end to end with real builds: a cached env that lost or changed a file is rebuilt
(never a verdict on the model from a broken env) and the report says why; a model verified with another
scikit-learn than it was trained with carries the drift and sklearn's InconsistentVersionWarning in the console,
JSON and JUnit, and `--fail-on warnings` fails it with its own exit code.

Kept short: one record and one ENVFORGE_HOME for the module, each env (uv's, the older scikit-learn's) built once
and damaged in place, each verify asserting all it can. The same damage under the other backends is tested where
their env is built anyway: integration/test_virtualenv_backend.py and integration/test_conda_backend.py (docker
images are checked by their id: backends/docker)."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from envforge.errors import EXIT_DRIFT, EXIT_WARNINGS
from tests.support.cli import envforge, report
from tests.support.env_damage import assert_rebuilt_for_a_missing_file

pytestmark = pytest.mark.slow

OLD_SKLEARN = "1.4.2"  # has wheels for Python 3.11 and works with numpy 2: unpickles today's LogisticRegression, warning


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, sklearn_model_template: Path) -> tuple[Path, Path]:
    """The iris model with its predictions recorded in this (training) environment, and one ENVFORGE_HOME."""
    root = tmp_path_factory.mktemp("damage")
    model, home = root / "iris", root / "home"
    shutil.copytree(sklearn_model_template, model)
    home.mkdir()
    run = envforge("record", str(model), home=home)
    assert run.returncode == 0, run.output
    return model, home


def _verify(model: Path, home: Path, out: Path, *args: str) -> tuple[int, dict, str]:
    run = envforge("verify", str(model), "--json", str(out / "r.json"), "--junit", str(out / "r.xml"), *args, home=home)
    return run.returncode, report(out / "r.json"), run.output


def _init(env: Path) -> Path:
    [init] = env.glob("lib/python*/site-packages/sklearn/__init__.py")
    return init


def _rebuilt_for_a_deleted_file(model: Path, home: Path, out: Path, backend: str) -> Path:
    """Build (or reuse) the backend's env, delete sklearn/__init__.py, verify: rebuilt, PASSED, the reason reported."""
    code, first, output = _verify(model, home, out, "--backend", backend)
    assert code == 0 and first["status"] == "passed", output
    env = Path(first["env"]["path"])
    init = _init(env)
    init.unlink()  # before issue 29: "the model failed to load: ImportError ...", exit 1

    code, again, output = _verify(model, home, out, "--backend", backend)
    why = assert_rebuilt_for_a_missing_file(code, again, output, env, init, "sklearn/__init__.py")
    props = {p.get("name"): p.get("value") for p in ET.parse(out / "r.xml").getroot().iter("property")}
    assert props["env.rebuilt_because"] == why
    return env


def test_a_file_deleted_from_a_built_uv_env_is_rebuilt_and_a_same_size_change_is_found_by_check_only(
        recorded: tuple[Path, Path], tmp_path: Path) -> None:
    model, home = recorded
    env = _rebuilt_for_a_deleted_file(model, home, tmp_path, "uv")
    target = _init(env)
    text = target.read_bytes()
    # Same size, still imports; a new file renamed over the old one: uv hard-links installed files from its own
    # cache, so writing into this one in place would change uv's cached copy too (the rebuild would bring it back).
    changed = target.with_name("changed.tmp")
    changed.write_bytes(text.replace(b"scikit-learn", b"scikit-LEARN", 1))
    changed.replace(target)
    assert len(target.read_bytes()) == len(text) and target.read_bytes() != text

    # The rebuilt env is reused as it is (its new manifest is right) and the default check compares sizes only.
    code, cheap, output = _verify(model, home, tmp_path)
    assert code == 0 and cheap["env"]["reused"] is True and cheap["env"]["rebuilt_because"] is None, output
    code, full, output = _verify(model, home, tmp_path, "--check")
    assert code == 0 and full["status"] == "passed" and full["env"]["reused"] is False, output
    assert "changed (size or sha256 differs: " in full["env"]["rebuilt_because"]
    assert "sklearn/__init__.py" in full["env"]["rebuilt_because"] and target.read_bytes() == text


@pytest.fixture(scope="module")
def older(recorded: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The model pinned to OLD_SKLEARN and recorded in this env, verified once with `--fail-on warnings` (its env built)."""
    import sklearn

    model, home = recorded
    out = tmp_path_factory.mktemp("older")
    older = out / "iris-older"
    shutil.copytree(model, older)
    requirements = older / "requirements.txt"
    pin = f"scikit-learn=={sklearn.__version__}"
    assert pin in requirements.read_text()
    requirements.write_text(requirements.read_text().replace(pin, f"scikit-learn=={OLD_SKLEARN}"))
    # Recorded again (in this training env, today's scikit-learn): requirements.txt is an artifact file, and an
    # edited artifact is `artifact-changed` before anything is built (issue 29 item 1).
    recorded_again = envforge("record", str(older), home=home)
    assert recorded_again.returncode == 0, recorded_again.output
    code, result, output = _verify(older, home, out, "--fail-on", "warnings")
    return {"model": older, "home": home, "out": out, "code": code, "result": result, "output": output}


def test_an_older_scikit_learn_shows_its_drift_and_warning_and_fail_on_warnings_fails(older: dict, tmp_path: Path) -> None:
    import sklearn

    code, result, output, out = older["code"], older["result"], older["output"], older["out"]
    assert code == EXIT_WARNINGS and result["status"] == "failed", output
    assert result["reason"].startswith("--fail-on warnings: the model's process warned: InconsistentVersionWarning")
    assert "match the recorded predictions" in result["reason"]  # the predictions themselves agreed
    moved = f"scikit-learn {sklearn.__version__} → {OLD_SKLEARN}"
    assert result["drift"]["count"] >= 1 and moved in result["drift"]["summary"]
    assert {"name": "scikit-learn", "recorded": sklearn.__version__, "installed": OLD_SKLEARN}.items() \
        <= result["drift"]["packages"][0].items()
    [warning] = [w for w in result["model_warnings"] if w.startswith("InconsistentVersionWarning")]
    assert f"from version {sklearn.__version__} when using version {OLD_SKLEARN}" in warning
    flat = " ".join(output.split())
    assert f"drift: {result['drift']['summary']}" in flat and "model warning: InconsistentVersionWarning" in flat
    case = ET.parse(out / "r.xml").getroot().find(".//testcase")
    assert case is not None and case.find("failure") is not None
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert moved in props["drift.summary"] and "InconsistentVersionWarning" in props["model_warnings"]
    assert "model warning: InconsistentVersionWarning" in (case.findtext("system-out") or "")

    code, passed, output = _verify(older["model"], older["home"], tmp_path)  # no gate: PASSED, and still says both
    assert code == 0 and passed["status"] == "passed" and passed["env"]["reused"] is True, output
    assert moved in passed["drift"]["summary"] and any("InconsistentVersionWarning" in w for w in passed["model_warnings"])
    code, drifted, output = _verify(older["model"], older["home"], tmp_path, "--fail-on", "drift,warnings")
    assert code == EXIT_DRIFT and drifted["reason"].startswith("--fail-on drift: "), output


def test_each_model_of_a_shared_runner_gets_its_own_warnings(recorded: tuple[Path, Path], older: dict) -> None:
    """verify-registry runs the models of one env in one runner process: each model's verdict has its warnings."""
    from envforge.execution.executor import run_runner_many
    from envforge.modeldir import examples
    from envforge.spec.mlmodel import read_mlmodel

    model, _ = recorded
    runs = examples.model_examples(older["model"], read_mlmodel(older["model"]))
    python = str(Path(older["result"]["env"]["path"]) / "bin" / "python")  # the older scikit-learn's env, built above
    outputs = run_runner_many([python, "-I"], [(older["model"], runs), (model, runs)], model_timeout=300)
    assert [o.load_error for o in outputs] == [None, None]
    for output_ in outputs:
        assert any(w.startswith("InconsistentVersionWarning") for w in output_.warnings), output_.data
