"""Fuzzing the SIZE and SHAPE of every file a model directory holds (issue 17), where tests/test_spec_fuzz.py
fuzzes their content: very long, very many, very deep and very repetitive inputs, up to ~100 MB.

Each case runs the real CLI (`envforge inspect DIR`, which reads every file and builds nothing) and must end
with exit 0, 1, 2 or 3 (never 70), with no traceback, within 10 s of envforge's OWN CPU time and under 500 MB
of its peak RSS: both read from os.wait4's rusage of that one process (tests/support/measured.py), not from
the wall clock of a busy machine. Big inputs are written by repeating a unit, not drawn by hypothesis.
The cases that once failed are kept as @examples.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.measured import measured_envforge
from tests.support.shapes import BASE, JSON_KINDS, TEXT_KINDS, YAML_KINDS, check_bounded
from tests.support.shapes import make_model as _model
from tests.support.shapes import write as _write

tokens = st.one_of(st.sampled_from(["a", "a://", "a:/", " ", "#", " #", "\\", "==1", "[", "(", ";", "@", "/", "../",
                                    "-r ", "é", "a,", "'", '"', "\t", "&a ", "*a ", "numpy==1.0", "\x00"]),
                   st.text(min_size=1, max_size=6))
sizes = st.sampled_from([1, 10, 1_000, 100_000, 1_000_000, 10_000_000, 100_000_000])
shapes = st.sampled_from(["long", "many", "deep", "deep-block", "repetitive"])
# 6 examples a test in the quick loop; SHAPE_FUZZ_EXAMPLES=200 for a longer hunt
SETTINGS = settings(max_examples=int(os.environ.get("SHAPE_FUZZ_EXAMPLES", "6")), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("envforge-home")


@SETTINGS
@given(st.sampled_from(YAML_KINDS), shapes, tokens, sizes)
@example("MLmodel", "deep", "[", 5_000)             # exit 70: RecursionError in PyYAML's composer
@example("MLmodel", "deep-block", "a", 3_000)       # the same, nested by indentation
@example("MLmodel", "repetitive", "", 12)           # a billion laughs: 10**11 values once expanded
@example("conda.yaml", "many", "a", 10_000_000)     # 40 MB of list items
def test_yaml_files_of_any_size_and_shape(tmp_path: Path, home: Path, kind: str, shape: str, token: str, n: int) -> None:
    check_bounded(measured_envforge("inspect", str(_model(tmp_path, kind, shape, token, n)), home=home))


@SETTINGS
@given(st.sampled_from(TEXT_KINDS), shapes, tokens, sizes)
@example("requirements.txt", "long", "a", 3_000_000)           # minutes in redact(): a quadratic regex on a long word
@example("requirements.txt", "long", "a://", 1_000_000)       # the channel-token regex rescanning from every "x://"
@example("requirements.txt", "many", "numpy==1.0", 2_000_000)  # gigabytes and minutes for two million lines
@example("requirements.txt", "repetitive", "", 1)             # -r requirements.txt: an include cycle
@example("constraints.txt", "deep", "a", 1_000_000)           # one logical line continued a million times
def test_text_files_of_any_size_and_shape(tmp_path: Path, home: Path, kind: str, shape: str, token: str, n: int) -> None:
    check_bounded(measured_envforge("inspect", str(_model(tmp_path, kind, shape, token, n)), home=home))


@SETTINGS
@given(st.sampled_from(JSON_KINDS), shapes, tokens, sizes)
@example("input_example.json", "deep", "", 100_000)              # RecursionError in json.loads
@example("input_example.json", "many", "", 5_000_000)            # 15 MB of `{},`: 430 MB of dicts
@example("envforge-expectations.json", "repetitive", "", 1)      # an example whose name is not a string
@example("envforge-expectations.json", "long", "a", 100_000_000)  # 100 MB
def test_json_files_of_any_size_and_shape(tmp_path: Path, home: Path, kind: str, shape: str, token: str, n: int) -> None:
    check_bounded(measured_envforge("inspect", str(_model(tmp_path, kind, shape, token, n)), home=home))


def test_a_chain_of_includes_deeper_than_the_limit_is_refused(tmp_path: Path, home: Path) -> None:
    model = _model(tmp_path, "constraints.txt", "many", "numpy<3", 1)
    (model / "requirements.txt").write_text("mlflow\n-r inc1.txt\n")
    for i in range(1, 30):
        (model / f"inc{i}.txt").write_text(f"-r inc{i + 1}.txt\n")
    (model / "inc30.txt").write_text("numpy\n")
    run = measured_envforge("inspect", str(model), home=home)
    check_bounded(run)
    assert "levels of -r/-c includes" in run.output and "ENVFORGE_MAX_INCLUDE_DEPTH" in run.output


def test_an_include_cycle_is_named(tmp_path: Path, home: Path) -> None:
    model = _model(tmp_path, "constraints.txt", "many", "numpy<3", 1)
    (model / "requirements.txt").write_text("mlflow\n-r a.txt\n")
    (model / "a.txt").write_text("-r b.txt\n")
    (model / "b.txt").write_text("-r a.txt\n")
    run = measured_envforge("inspect", str(model), home=home)
    check_bounded(run)
    assert "in a cycle: requirements.txt -> a.txt -> b.txt -> a.txt" in run.output


def test_a_limit_is_raised_by_its_variable(tmp_path: Path, home: Path) -> None:
    model = _model(tmp_path, "requirements.txt", "many", "numpy==1.0", 20)
    run = measured_envforge("inspect", "--json", str(model), home=home, env={"ENVFORGE_MAX_REQUIREMENT_LINES": "10"})
    assert "22 lines of requirements" in run.output and "ENVFORGE_MAX_REQUIREMENT_LINES=N" in run.output
    run = measured_envforge("inspect", "--json", str(model), home=home, env={"ENVFORGE_MAX_REQUIREMENT_LINES": "100"})
    assert run.returncode == 0 and "ENVFORGE_MAX_REQUIREMENT_LINES" not in run.output


def test_a_model_directory_of_too_many_files_is_refused(tmp_path: Path, home: Path) -> None:
    model = _model(tmp_path, "constraints.txt", "many", "numpy<3", 1)
    (model / "wheels").mkdir()
    for i in range(1_200):
        (model / "wheels" / f"w{i}.txt").touch()
    run = measured_envforge("inspect", str(model), home=home, env={"ENVFORGE_MAX_MODEL_FILES": "1000"})
    check_bounded(run)
    assert run.returncode == 2 and "files in the model directory" in run.output and "ENVFORGE_MAX_MODEL_FILES" in run.output


def test_a_code_path_too_long_for_the_file_system_is_exit_2(tmp_path: Path, home: Path) -> None:
    """hypothesis found it in tests/test_spec_fuzz.py: `OSError: File name too long` from find_wheels (exit 70)."""
    model = _model(tmp_path, "constraints.txt", "many", "numpy<3", 1)
    (model / "MLmodel").write_text(BASE["MLmodel"].replace("    env:", "    code: " + "c" * 300 + "\n    env:"))
    run = measured_envforge("inspect", str(model), home=home)
    check_bounded(run)
    assert "too long for any file system" in run.output


LOCKS = {  # envforge-lock.txt stored with the model: read by verify before anything is built (every case is refused)
    "100 MB": [("numpy==1.26.4 --hash=sha256:00\n", 3_400_000)],
    "too many lines": [("numpy==1.26.4 --hash=sha256:00\n", 20_000)],
    "one long line": [("numpy==1.26.4", 1), (" --hash=sha256:00", 200_000), ("\n", 1)],
    "continued a million times": [("numpy==1.26.4 \\\n", 1_000_000)],
}


@pytest.mark.parametrize("case", LOCKS)
def test_verify_refuses_a_stored_lock_of_any_size_and_shape(tmp_path: Path, home: Path, case: str) -> None:
    model = _model(tmp_path, "constraints.txt", "many", "numpy<3", 1)
    _write(model / "envforge-lock.txt", LOCKS[case])
    run = measured_envforge("verify", str(model), "--backend", "uv", home=home)
    check_bounded(run)
    assert run.returncode == 2 and "far larger than any real model's" in run.output, run.output[-2000:]


def test_verify_refuses_a_model_directory_of_too_many_files_before_reading_it(tmp_path: Path, home: Path) -> None:
    model = _model(tmp_path, "constraints.txt", "many", "numpy<3", 1)
    for i in range(60):
        (model / "artifacts" / f"d{i}").mkdir(parents=True)
        for j in range(20):
            (model / "artifacts" / f"d{i}" / f"f{j}").touch()
    run = measured_envforge("verify", str(model), "--backend", "uv", home=home, env={"ENVFORGE_MAX_MODEL_FILES": "1000"})
    check_bounded(run)
    assert run.returncode == 2 and "files in the model directory" in run.output, run.output[-2000:]
