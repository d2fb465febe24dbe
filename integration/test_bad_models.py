"""Bad model directories: a one-paragraph message, the documented exit code, no traceback, no half-built env."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.cli import envforge

pytestmark = pytest.mark.slow


def _copy(template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(template, target)
    return target


def _assert_clear(run, code: int, *needles: str) -> None:
    assert run.returncode == code, run.output
    assert "Traceback" not in run.output
    for needle in needles:
        assert needle in run.output, (needle, run.output)


def test_empty_directory(tmp_path: Path, home: Path) -> None:
    (tmp_path / "empty").mkdir()
    _assert_clear(envforge("verify", str(tmp_path / "empty"), home=home), 2, "No MLmodel file")


def test_missing_path(tmp_path: Path, home: Path) -> None:
    _assert_clear(envforge("verify", str(tmp_path / "nowhere"), home=home), 2, "No such model directory")


@pytest.mark.parametrize("content, needle", [
    ("flavors: [unclosed\n  - x: {", "not valid YAML"),
    ("- a\n- b\n", "not a mapping"),
    ("flavors:\n  sklearn:\n    pickled_model: model.pkl\n", "no python_function flavor"),
    ("artifact_path: x\n", "declares no flavors"),
])
def test_malformed_mlmodel(sklearn_model_template: Path, tmp_path: Path, home: Path, content: str, needle: str) -> None:
    model = _copy(sklearn_model_template, tmp_path)
    (model / "MLmodel").write_text(content)
    _assert_clear(envforge("verify", str(model), home=home), 2, needle, "MLmodel")


def test_requirement_with_a_syntax_error(sklearn_model_template: Path, tmp_path: Path, home: Path) -> None:
    model = _copy(sklearn_model_template, tmp_path)
    (model / "requirements.txt").write_text("numpy>=1.0,<<2\n")
    _assert_clear(envforge("verify", str(model), home=home), 2, "requirements.txt, line 1", "not a valid requirement")


def test_requirement_escaping_the_model_dir_is_refused(sklearn_model_template: Path, tmp_path: Path, home: Path) -> None:
    model = _copy(sklearn_model_template, tmp_path)
    (model / "requirements.txt").write_text("../../etc/x.whl\n")
    _assert_clear(envforge("verify", str(model), home=home), 2, "outside the model directory")


def test_unresolvable_requirement_exit_3_and_no_env_left(sklearn_model_template: Path, tmp_path: Path, home: Path) -> None:
    model = _copy(sklearn_model_template, tmp_path)
    reqs = model / "requirements.txt"
    reqs.write_text(reqs.read_text() + "\nenvforge-no-such-package-zzz==9.9.9\n")
    run = envforge("verify", str(model), home=home)
    _assert_clear(run, 3, "envforge-no-such-package-zzz", "uv")
    assert not any((home / "envs").iterdir()), "a half-built env was left in the cache"
