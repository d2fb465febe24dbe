"""Fuzzing the spec parsers (issue 8, part 5): whatever MLmodel, python_env.yaml, conda.yaml and
requirements.txt hold, reading a model directory either works or raises one of envforge's own
errors (which the CLI turns into a one-paragraph message and an exit code), never anything else.

Inputs are both raw text and structured YAML (mappings, lists, scalars of every type), with
the keys MLflow writes, so the fuzzer reaches past the YAML parser into envforge's checks.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from envforge.errors import EnvforgeError
from envforge.spec import load_spec
from envforge.spec.mlmodel import read_mlmodel

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=30),
                    st.sampled_from(["3.11.7", "3.10", "banana", "-r requirements.txt", "../x", "/etc/hostname",
                                     "mlflow.sklearn", "conda.yaml", "python_env.yaml", "code", "input_example.json"]))
yaml_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.one_of(st.text(max_size=12), st.sampled_from(
        ["flavors", "python_function", "loader_module", "python_version", "env", "conda", "virtualenv", "code",
         "saved_input_example_info", "artifact_path", "type", "pandas_orient", "python", "dependencies",
         "build_dependencies", "channels", "pip", "name"])), inner, max_size=5)), max_leaves=20)

requirement_tokens = st.sampled_from([
    "mlflow", "numpy", "==", ">=", "<", "1.26.4", "2.0", ",", ";", " ", "python_version", "'3.8'", "[extra]", "@",
    "-r", "-c", "--index-url", "--extra-index-url", "--find-links", "--pre", "--trusted-host", "-e", "./code/x.whl",
    "../../etc/passwd", "requirements.txt", "constraints.txt", "http://127.0.0.1/simple", "#", "\\\n", "\n", "&&",
    "$(touch x)", "`id`", "|", "\x00", "é", "rm -rf /",
])
requirement_text = st.one_of(st.text(max_size=200), st.lists(requirement_tokens, max_size=30).map("".join))

MLMODEL_OK = {"flavors": {"python_function": {"loader_module": "mlflow.sklearn", "python_version": "3.11.7",
                                              "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}}}}


def _dump(value: object) -> str:
    return yaml.safe_dump(value) if not isinstance(value, str) else value


def _load(files: dict[str, str | bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model"
        model.mkdir()
        for name, content in files.items():
            (model / name).write_bytes(content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass"))
        try:
            read_mlmodel(model)
            for backend in ("uv", "conda"):
                load_spec(model, backend)
        except EnvforgeError as exc:
            assert exc.paragraph().strip(), "an error without a message"


@SETTINGS
@given(st.one_of(st.text(max_size=300), st.binary(max_size=200), yaml_values.map(_dump)))
def test_mlmodel_of_any_content(content: str | bytes) -> None:
    _load({"MLmodel": content, "requirements.txt": "mlflow\n"})


@SETTINGS
@given(yaml_values)
@example({"code": "c" * 300})  # found by this test: `OSError: File name too long` from find_wheels (issue 17)
@example({"env": {"virtualenv": "v" * 300}})
def test_mlmodel_with_any_python_function_flavor(flavor: object) -> None:
    _load({"MLmodel": _dump({"flavors": {"python_function": flavor}}), "requirements.txt": "mlflow\n"})


@SETTINGS
@given(st.one_of(st.text(max_size=300), yaml_values.map(_dump)), requirement_text)
def test_python_env_of_any_content(python_env: str, requirements: str) -> None:
    _load({"MLmodel": _dump(MLMODEL_OK), "python_env.yaml": python_env, "requirements.txt": requirements})


@SETTINGS
@given(requirement_text, requirement_text)
@example("/\x00", "")  # found by this test: a NUL byte in a path made pathlib raise ValueError
def test_requirements_of_any_content(requirements: str, constraints: str) -> None:
    _load({"MLmodel": _dump(MLMODEL_OK), "requirements.txt": requirements + "\n-c constraints.txt\n",
           "constraints.txt": constraints,
           "python_env.yaml": "python: 3.11.7\nbuild_dependencies: [pip]\ndependencies: [-r requirements.txt]\n"})


@SETTINGS
@given(st.one_of(st.text(max_size=300), yaml_values.map(_dump)))
def test_conda_yaml_of_any_content(conda: str) -> None:
    _load({"MLmodel": _dump(MLMODEL_OK), "conda.yaml": conda})


# The fuzz tests above would pass a parser that rejects everything: the valid inputs the strategies below
# generate must load, and give back exactly what they hold.
names = st.from_regex(r"[a-z][a-z0-9]{0,8}(-[a-z0-9]{1,5})?", fullmatch=True)
versions = st.lists(st.integers(0, 40), min_size=1, max_size=3).map(lambda parts: ".".join(map(str, parts)))
requirement_lines = st.tuples(names, st.sampled_from(["", "==", ">=", "<", "!="]), versions).map(
    lambda t: t[0] if not t[1] else f"{t[0]}{t[1]}{t[2]}")


def _canonical(line: str) -> str:
    from packaging.requirements import Requirement

    req = Requirement(line)
    return f"{req.name.lower()}{req.specifier}"


@SETTINGS
@example(["a"], "3.10")  # found by this test: YAML read an unquoted `python: 3.10` as the float 3.1
@given(st.lists(requirement_lines, min_size=1, max_size=15, unique_by=lambda line: line.split("=")[0].split(">")[0]
                .split("<")[0].split("!")[0]), st.sampled_from(["3.9.18", "3.10", "3.12.1"]))
def test_valid_requirements_always_load_and_come_back(lines: list[str], python: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model"
        model.mkdir()
        mlmodel = {"flavors": {"python_function": {"loader_module": "mlflow.sklearn", "python_version": python,
                                                   "env": {"virtualenv": "python_env.yaml"}}}}
        (model / "MLmodel").write_text(yaml.safe_dump(mlmodel))
        (model / "requirements.txt").write_text("\n".join(["mlflow", *lines]) + "\n")
        (model / "python_env.yaml").write_text(f"python: {python}\nbuild_dependencies: [pip]\ndependencies: [-r requirements.txt]\n")
        spec = load_spec(model, "uv")
    assert spec.python == python
    assert sorted(map(_canonical, spec.requirements)) == sorted(map(_canonical, ["mlflow", *lines]))
