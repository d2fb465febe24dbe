"""Issue 29, items 3 and 4, end to end with real builds: a cached env that lost or changed a file is rebuilt
(never a verdict on the model from a broken env) and the report says why; a model verified with another
scikit-learn than it was trained with carries the drift and sklearn's InconsistentVersionWarning in the console,
JSON and JUnit, and `--fail-on warnings` fails it with its own exit code."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from envforge.errors import EXIT_DRIFT, EXIT_WARNINGS
from tests.support.cli import envforge, report

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


def _with_old_sklearn(model: Path, older: Path) -> Path:
    """A copy of the model pinning OLD_SKLEARN, its expectations stamped with the copy's digests: requirements.txt is
    one of the model's files, so without that verify stops at the artifact gate (commands/artifact_gate.py)."""
    import json

    import sklearn

    from envforge.modeldir.digests import digest_dir

    shutil.copytree(model, older)
    requirements = older / "requirements.txt"
    pin = f"scikit-learn=={sklearn.__version__}"
    assert pin in requirements.read_text()
    requirements.write_text(requirements.read_text().replace(pin, f"scikit-learn=={OLD_SKLEARN}"))
    stored = older / "envforge-expectations.json"
    document = json.loads(stored.read_text())
    assert document.get("artifacts"), "record stores the model's digests"
    stored.write_text(json.dumps({**document, "artifacts": digest_dir(older)}))
    return older


@pytest.mark.parametrize("backend", ["uv", "virtualenv"])
def test_a_file_deleted_from_a_built_env_is_rebuilt_and_the_report_says_why(
        backend: str, recorded: tuple[Path, Path], tmp_path: Path) -> None:
    model, home = recorded
    code, first, output = _verify(model, home, tmp_path, "--backend", backend)
    assert code == 0 and first["status"] == "passed", output
    env = Path(first["env"]["path"])
    [init] = env.glob("lib/python*/site-packages/sklearn/__init__.py")
    init.unlink()  # before issue 29: "the model failed to load: ImportError ...", exit 1

    code, again, output = _verify(model, home, tmp_path, "--backend", backend)
    assert code == 0 and again["status"] == "passed", output
    assert again["env"]["reused"] is False and init.is_file()
    why = again["env"]["rebuilt_because"]
    assert "1 file(s) missing" in why and "sklearn/__init__.py" in why
    assert f"env rebuilt: {why}" in " ".join(output.split())  # the console line (rich may wrap it)
    props = {p.get("name"): p.get("value") for p in ET.parse(tmp_path / "r.xml").getroot().iter("property")}
    assert props["env.rebuilt_because"] == why

    code, third, output = _verify(model, home, tmp_path, "--backend", backend)
    assert code == 0 and third["env"]["reused"] is True and third["env"]["rebuilt_because"] is None, output


def test_a_same_size_change_is_found_by_check_only(recorded: tuple[Path, Path], tmp_path: Path) -> None:
    model, home = recorded
    code, first, output = _verify(model, home, tmp_path)
    assert code == 0, output
    env = Path(first["env"]["path"])
    [target] = env.glob("lib/python*/site-packages/sklearn/__init__.py")
    text = target.read_bytes()
    # Same size, still imports; a new file renamed over the old one: uv hard-links installed files from its own
    # cache, so writing into this one in place would change uv's cached copy too (the rebuild would bring it back).
    changed = target.with_name("changed.tmp")
    changed.write_bytes(text.replace(b"scikit-learn", b"scikit-LEARN", 1))
    changed.replace(target)
    assert len(target.read_bytes()) == len(text) and target.read_bytes() != text

    code, cheap, output = _verify(model, home, tmp_path)
    assert code == 0 and cheap["env"]["reused"] is True, output  # the default check compares sizes only
    code, full, output = _verify(model, home, tmp_path, "--check")
    assert code == 0 and full["status"] == "passed" and full["env"]["reused"] is False, output
    assert "changed (size or sha256 differs: " in full["env"]["rebuilt_because"]
    assert "sklearn/__init__.py" in full["env"]["rebuilt_because"] and target.read_bytes() == text


def test_an_older_scikit_learn_shows_its_drift_and_warning_and_fail_on_warnings_fails(
        recorded: tuple[Path, Path], tmp_path: Path) -> None:
    import sklearn

    model, home = recorded
    older = _with_old_sklearn(model, tmp_path / "older")

    code, result, output = _verify(older, home, tmp_path, "--fail-on", "warnings")
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
    case = ET.parse(tmp_path / "r.xml").getroot().find(".//testcase")
    assert case is not None and case.find("failure") is not None
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert moved in props["drift.summary"] and "InconsistentVersionWarning" in props["model_warnings"]
    assert "model warning: InconsistentVersionWarning" in (case.findtext("system-out") or "")

    code, passed, output = _verify(older, home, tmp_path)  # no gate: PASSED, and still says both
    assert code == 0 and passed["status"] == "passed" and passed["env"]["reused"] is True, output
    assert moved in passed["drift"]["summary"] and any("InconsistentVersionWarning" in w for w in passed["model_warnings"])
    code, drifted, output = _verify(older, home, tmp_path, "--fail-on", "drift,warnings")
    assert code == EXIT_DRIFT and drifted["reason"].startswith("--fail-on drift: "), output


def test_each_model_of_a_shared_runner_gets_its_own_warnings(recorded: tuple[Path, Path], tmp_path: Path) -> None:
    """verify-registry runs the models of one env in one runner process: each model's verdict has its warnings."""

    from envforge.execution.executor import run_runner_many
    from envforge.modeldir import examples
    from envforge.spec.mlmodel import read_mlmodel

    model, home = recorded
    older = _with_old_sklearn(model, tmp_path / "older")
    code, result, output = _verify(older, home, tmp_path)  # the env of the test above: reused
    assert code == 0, output
    runs = examples.model_examples(older, read_mlmodel(older))
    python = str(Path(result["env"]["path"]) / "bin" / "python")
    outputs = run_runner_many([python, "-I"], [(older, runs), (model, runs)], model_timeout=300)
    assert [o.load_error for o in outputs] == [None, None]
    for output_ in outputs:
        assert any(w.startswith("InconsistentVersionWarning") for w in output_.warnings), output_.data
