"""The two venv backends share one interpreter policy, and a cached env honours --python / --python-match."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from envforge.backends import NAMES, get_backend
from envforge.backends.build_options import BuildOptions
from envforge.backends.venv import built_from, choose_interpreter
from envforge.backends.virtualenv import VirtualenvBackend, pip_env
from envforge.building.cached_envs import _interpreter_mismatch
from envforge.cli import build_parser
from envforge.interpreters import Choice, Interpreter, choose
from envforge.spec import EnvSpec
from tests.support.machine import pythons_by_minor


def _spec(python: str | None) -> EnvSpec:
    return EnvSpec(backend="virtualenv", python=python, python_source="python_env.yaml", build_dependencies=(),
                   requirements=("mlflow",), constraints=(), index_options=(), code_wheels=(), file_hashes=())


def test_virtualenv_backend_is_registered_and_usable_here() -> None:
    assert "virtualenv" in NAMES
    backend = get_backend("virtualenv")
    assert isinstance(backend, VirtualenvBackend) and backend.name == "virtualenv"
    assert backend.available() is None  # the virtualenv package is one of envforge's dependencies
    assert build_parser().parse_args(["verify", "m", "--backend", "virtualenv"]).backend == "virtualenv"


def test_pip_never_reads_a_config_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_CONFIG_FILE", "/etc/some/pip.conf")
    monkeypatch.setenv("VIRTUALENV_CONFIG_FILE", "/etc/some/virtualenv.ini")
    env = pip_env(BuildOptions())
    assert env["PIP_CONFIG_FILE"] == os.devnull and env["VIRTUALENV_CONFIG_FILE"] == os.devnull
    assert "XDG_CONFIG_HOME" not in env and "XDG_CONFIG_DIRS" not in env  # where pip looks for user/site files


def test_both_backends_choose_the_same_interpreter_and_say_why() -> None:
    machine = pythons_by_minor()[0]  # a version this machine has, whatever it is
    version = machine.version
    lines: list[str] = []
    choice = choose_interpreter(_spec(version), BuildOptions(), lines.append)
    assert choice.interpreter == choose(version).interpreter and choice.interpreter.version == version
    source = choice.interpreter.source
    assert lines == [f"python {version}: exact match {version} from {source}"]
    built = built_from(choice, "/env/bin/python", ("a==1",))
    assert built.interpreter_reason == f"exact match {version} from {source}: {choice.interpreter.path}"
    assert built.python_version == version and built.interpreter_warning is None and built.installed == ("a==1",)


def test_a_minor_fallback_keeps_its_warning_and_an_explicit_path_is_not_repeated() -> None:
    fallback = Choice(Interpreter("/py/3.10.13/bin/python3", "3.10.13", "pyenv"), "3.10.2",
                      "no 3.10.2 installed; using 3.10.13 (same minor) from pyenv", "logged 3.10.2, using 3.10.13")
    built = built_from(fallback, "/env/bin/python", ())
    assert built.interpreter_reason.endswith(": /py/3.10.13/bin/python3") and built.interpreter_warning == "logged 3.10.2, using 3.10.13"
    explicit = Choice(Interpreter("/opt/py/bin/python3", "3.12.1", "explicit"), None,
                      "explicit --python /opt/py/bin/python3 (3.12.1)", None)
    assert built_from(explicit, "/env/bin/python", ()).interpreter_reason == "explicit --python /opt/py/bin/python3 (3.12.1)"


@pytest.mark.parametrize(("state", "spec_python", "options", "stale"), [
    ({"python_version": "3.10.13"}, "3.10.13", BuildOptions(), None),
    ({"python_version": "3.10.13", "explicit_python": None}, "3.10.2", BuildOptions(), None),  # auto: fallback is fine
    ({"python_version": "3.10.13"}, "3.10.2", BuildOptions(python_match="minor"), None),
    ({"python_version": "3.10.13"}, "3.10.2", BuildOptions(python_match="exact"), "--python-match exact asks for 3.10.2"),
    ({"python_version": "3.10.13"}, "3.10.13", BuildOptions(python_match="exact"), None),
    ({"python_version": "3.10.13"}, "3.10", BuildOptions(python_match="exact"), None),
    ({"python_version": "3.11.7"}, "3.11.7", BuildOptions(python="/usr/bin/python3"), "this run asks for --python"),
    ({"python_version": "3.11.2", "explicit_python": "/usr/bin/python3.11"}, "3.11.7", BuildOptions(),
     "built for --python /usr/bin/python3.11, this run asks for the logged Python version"),
])
def test_cached_env_is_rebuilt_when_it_does_not_honour_the_interpreter_options(
        state: dict, spec_python: str, options: BuildOptions, stale: str | None) -> None:
    found = _interpreter_mismatch(state, _spec(spec_python), options)
    assert (found is None) if stale is None else (stale in (found or ""))


def test_same_explicit_interpreter_reuses_the_env(tmp_path: Path) -> None:
    link = tmp_path / "python"
    machine = pythons_by_minor()[0]
    link.symlink_to(machine.path)
    state = {"python_version": machine.version, "explicit_python": os.path.realpath(link)}
    assert _interpreter_mismatch(state, _spec("3.11.7"), BuildOptions(python=str(link))) is None
