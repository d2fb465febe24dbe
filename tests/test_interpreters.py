"""Tests for envforge.interpreters, mostly against the real pyenv interpreters on this machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from envforge.errors import EnvforgeError, InterpreterNotFound
from envforge.interpreters import (
    Choice,
    Interpreter,
    choose,
    discover,
    parse_version,
    python_version_of,
)
from tests.support.machine import need_pythons

PYENV_ROOT = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")


@pytest.fixture(scope="module")
def real() -> list[Interpreter]:
    """Four real interpreters of distinct minor versions, newest first (tests/support/machine.py)."""
    return need_pythons(4)


def _bump(version: str) -> str:
    """A patch release of `version`'s minor that is newer than any installed: never on the machine."""
    major, minor, patch = (int(p) for p in version.split("."))
    return f"{major}.{minor}.{patch + 1}"


def _runs_as(path: str) -> str:
    argv = [path, "-c", "import platform; print(platform.python_version())"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False).stdout.strip()


def _no_shim(path: str) -> bool:
    return "/shims/" not in path and not os.path.realpath(path).startswith(os.path.join(PYENV_ROOT, "shims"))


@pytest.fixture(scope="module")
def found() -> list[Interpreter]:
    return discover()


@pytest.fixture
def fake_pyenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "pyenv"
    (root / "versions").mkdir(parents=True)
    monkeypatch.setenv("PYENV_ROOT", str(root))
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(tmp_path / "uv-python"))
    return root


def _link(target: str, link: Path) -> str:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    return str(link)


def _script(path: Path, body: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3.11.7", (3, 11, 7)), ("3.9", (3, 9)), (" 3.10.13 ", (3, 10, 13)), ("banana", None), (">=3.8", None),
     ("python=3.8.10", None), ("3", None), ("3.1.2.3", None), ("", None), ("3.11.7.post1", None)],
)
def test_parse_version(text: str, expected: tuple[int, ...] | None) -> None:
    assert parse_version(text) == expected


# --- real discovery -------------------------------------------------------------------------

def test_discover_finds_each_interpreter_with_the_version_it_runs_as(found: list[Interpreter]) -> None:
    assert found, "no CPython found on this machine"
    for interpreter in found:
        assert _runs_as(interpreter.path) == interpreter.version == python_version_of(interpreter.path)


def test_discover_finds_every_pyenv_version(found: list[Interpreter]) -> None:
    versions = Path(PYENV_ROOT) / "versions"
    installed = sorted(p.name for p in versions.iterdir() if p.name.startswith("3.") and (p / "bin" / "python3").is_file()) \
        if versions.is_dir() else []
    assert sorted(i.version for i in found if i.source == "pyenv") == installed


def test_discover_is_deduplicated_sorted_and_shim_free(found: list[Interpreter]) -> None:
    real = [os.path.realpath(i.path) for i in found]
    assert len(real) == len(set(real))
    versions = [parse_version(i.version) for i in found]
    assert versions == sorted(versions, reverse=True)
    assert all(v is not None and v[0] == 3 for v in versions)  # pyenv's 2.7.18 is not a candidate
    assert all(os.path.isabs(i.path) and _no_shim(i.path) for i in found)


def test_choose_exact_match(real: list[Interpreter]) -> None:
    wanted = real[1].version
    choice = choose(wanted)
    assert choice.interpreter.version == wanted and choice.interpreter.source in ("pyenv", "uv", "path")
    assert choice.warning is None and "exact" in choice.reason and choice.wanted == wanted
    assert _runs_as(choice.interpreter.path) == wanted
    assert _no_shim(choice.interpreter.path)


@pytest.mark.parametrize("match", ["auto", "minor"])
def test_choose_falls_back_to_same_minor_with_warning(real: list[Interpreter], match: str) -> None:
    have, wanted = real[1].version, _bump(real[1].version)
    choice = choose(wanted, match=match)
    assert choice.interpreter.version == have
    assert _runs_as(choice.interpreter.path) == have
    assert choice.warning is not None and wanted in choice.warning and have in choice.warning
    assert wanted in choice.reason and have in choice.reason


def test_choose_minor_only_wanted_takes_highest_patch(real: list[Interpreter]) -> None:
    minor = ".".join(real[2].version.split(".")[:2])
    choice = choose(minor)
    assert choice.interpreter.version == real[2].version and choice.warning is None


def test_exact_policy_refuses_other_patch(real: list[Interpreter]) -> None:
    wanted = _bump(real[1].version)
    with pytest.raises(InterpreterNotFound) as info:
        choose(wanted, match="exact")
    err = info.value
    assert wanted in err.message
    assert real[1].version in err.message and real[0].version in err.message  # lists what was found
    assert "--python-match minor" in err.remedy and "--python" in err.remedy
    assert "--allow-python-download" in err.remedy and f"pyenv install {wanted}" in err.remedy
    assert isinstance(err, EnvforgeError) and err.exit_code == 3


def test_unknown_minor_raises(found: list[Interpreter]) -> None:
    with pytest.raises(InterpreterNotFound) as info:
        choose("3.4.1")
    assert "3.4.1" in info.value.message and found[0].version in info.value.message


def test_malformed_version_raises() -> None:
    with pytest.raises(InterpreterNotFound, match="'banana' is not a Python version"):
        choose("banana")


def test_unknown_match_policy_is_rejected() -> None:
    with pytest.raises(ValueError):
        choose("3.10.13", match="closest")


# --- explicit --python ----------------------------------------------------------------------

def test_explicit_interpreter_is_used_and_warns_on_mismatch(real: list[Interpreter]) -> None:
    explicit, other = real[0], real[1].version
    choice = choose(other, explicit=explicit.path)
    assert choice.interpreter == Interpreter(os.path.abspath(explicit.path), explicit.version, "explicit")
    assert choice.reason == f"explicit --python {os.path.abspath(explicit.path)} ({explicit.version})"
    assert choice.warning is not None and other in choice.warning and explicit.version in choice.warning


def test_explicit_interpreter_matching_has_no_warning(real: list[Interpreter]) -> None:
    explicit = real[0]
    assert choose(".".join(explicit.version.split(".")[:2]), explicit=explicit.path).warning is None
    assert choose(None, explicit=explicit.path).warning is None
    assert choose("banana", explicit=explicit.path).warning is not None


def test_explicit_rejects_missing_and_non_python(tmp_path: Path) -> None:
    with pytest.raises(InterpreterNotFound, match="not an executable"):
        choose("3.10.13", explicit=str(tmp_path / "nope"))
    fake = _script(tmp_path / "python3", "echo hello")
    with pytest.raises(InterpreterNotFound, match="not a working Python"):
        choose("3.10.13", explicit=fake)


def test_explicit_pyenv_shim_is_resolved() -> None:
    shim = os.path.join(PYENV_ROOT, "shims", "python3")
    if not os.path.exists(shim):
        pytest.skip("no pyenv shims on this machine: pyenv provides them (`pyenv install 3.11`)")
    choice = choose(None, explicit=shim)
    assert _no_shim(choice.interpreter.path)
    assert _runs_as(choice.interpreter.path) == choice.interpreter.version


# --- discovery sources, with a fake PYENV_ROOT / PATH / uv dir --------------------------------

def test_pyenv_discovery_reads_versions_dir(real: list[Interpreter], fake_pyenv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    link = _link(real[0].path, fake_pyenv / "versions" / "3.99.1" / "bin" / "python3")
    _link(real[3].path, fake_pyenv / "versions" / "custom-env" / "bin" / "python3")  # not X.Y.Z: asked
    (fake_pyenv / "versions" / "2.7.18" / "bin").mkdir(parents=True)  # no python3: ignored
    custom = str(fake_pyenv / "versions" / "custom-env" / "bin" / "python3")
    assert discover() == [Interpreter(link, "3.99.1", "pyenv"), Interpreter(custom, real[3].version, "pyenv")]
    choice = choose("3.99.1")
    assert choice.interpreter.path == link and choice.warning is None


def test_path_discovery_runs_interpreters_and_skips_shims_and_broken(
    real: list[Interpreter], fake_pyenv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir, shims = tmp_path / "bin", fake_pyenv / "shims"
    _link(real[1].path, bin_dir / "python3.11")
    good = _link(real[1].path, bin_dir / "python3")  # same binary: deduplicated, first name kept
    _script(bin_dir / "python", "exit 1")  # broken: skipped
    _link(real[2].path, bin_dir / "pythonw")  # wrong name: ignored
    _link(real[3].path, shims / "python3")
    _link(real[0].path, tmp_path / "extra" / "python3.12")
    monkeypatch.setenv("PATH", os.pathsep.join([str(shims), str(bin_dir)]))
    result = discover(extra_paths=[str(tmp_path / "extra")])
    extra = str(tmp_path / "extra" / "python3.12")
    assert result == [Interpreter(extra, real[0].version, "path"), Interpreter(good, real[1].version, "path")]


def test_path_discovery_skips_non_cpython_and_python2(
    fake_pyenv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _script(tmp_path / "bin" / "python3", "echo 3.10.14 PyPy /opt/pypy/bin/pypy3")
    _script(tmp_path / "bin" / "python", "echo 2.7.18 CPython /usr/bin/python2")
    _script(tmp_path / "bin" / "python3.13", "echo 3.13.9 CPython /opt/fake/python3.13")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert discover() == [Interpreter(str(tmp_path / "bin" / "python3.13"), "3.13.9", "path")]


def test_uv_managed_interpreters_are_found(
    real: list[Interpreter], fake_pyenv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    link = _link(real[2].path, tmp_path / "uv-python" / "cpython-3.10.14-linux-x86_64-gnu" / "bin" / "python3")
    _link(real[2].path, tmp_path / "uv-python" / ".cache" / "bin" / "python3")
    assert discover() == [Interpreter(link, "3.10.14", "uv")]


# --- policies on injected candidates --------------------------------------------------------

CANDS = [Interpreter("/p/3.12.1", "3.12.1", "pyenv"), Interpreter("/p/3.10.4", "3.10.4", "path"),
         Interpreter("/p/3.10.13", "3.10.13", "pyenv"), Interpreter("/p/3.10.9", "3.10.9", "uv")]


def test_minor_policy_prefers_exact_patch_then_highest() -> None:
    assert choose("3.10.9", match="minor", candidates=CANDS).interpreter.path == "/p/3.10.9"
    assert choose("3.10.9", match="minor", candidates=CANDS).warning is None
    assert choose("3.10.5", match="minor", candidates=CANDS).interpreter.path == "/p/3.10.13"
    assert choose("3.10", match="exact", candidates=CANDS).interpreter.path == "/p/3.10.13"


def test_no_wanted_prefers_own_minor_else_newest() -> None:
    own = ".".join(map(str, sys.version_info[:2]))
    mine = Interpreter("/p/own", own + ".99", "pyenv")
    assert choose(None, candidates=[*CANDS, mine]).interpreter == mine
    others = [c for c in CANDS if not c.version.startswith(own + ".")]
    assert choose(None, candidates=others).interpreter.version == "3.12.1"
    with pytest.raises(InterpreterNotFound):
        choose(None, candidates=[])


def test_result_types() -> None:
    choice = choose("3.12.1", candidates=CANDS)
    assert isinstance(choice, Choice) and choice == Choice(CANDS[0], "3.12.1", "exact match 3.12.1 from pyenv", None)


# --- downloading ----------------------------------------------------------------------------

def test_offline_never_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    import uv

    monkeypatch.setattr(uv, "find_uv_bin", lambda: pytest.fail("uv must not run offline"))
    with pytest.raises(InterpreterNotFound) as info:
        choose("3.4.1", allow_download=True, offline=True, candidates=CANDS)
    assert "offline" in info.value.message and "3.4.1" in info.value.message
    assert "3.12.1, 3.10.13, 3.10.9, 3.10.4" in info.value.message


def test_download_not_attempted_unless_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    import uv

    monkeypatch.setattr(uv, "find_uv_bin", lambda: pytest.fail("download not allowed"))
    with pytest.raises(InterpreterNotFound):
        choose("3.4.1", candidates=CANDS)


def test_failed_download_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uv

    fake_uv = _script(tmp_path / "uv", 'echo "error: no network for $3" >&2; exit 2')
    monkeypatch.setattr(uv, "find_uv_bin", lambda: fake_uv)
    with pytest.raises(InterpreterNotFound) as info:
        choose("3.4.1", allow_download=True, candidates=CANDS)
    assert "no network for 3.4.1" in info.value.message and "3.4.1" in info.value.message


def test_successful_download_is_rediscovered(fake_pyenv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uv

    python = os.path.realpath(sys.executable)  # any real interpreter: uv's download is what is faked

    monkeypatch.setenv("PATH", "/nonexistent")
    target = tmp_path / "uv-python" / "cpython-3.4.1-linux-x86_64-gnu" / "bin"
    body = f'[ "$1 $2 $3" = "python install 3.4.1" ] || exit 9\n/bin/mkdir -p {target}\n'
    fake_uv = _script(tmp_path / "uv", body + f"/bin/ln -s {python} {target}/python3")
    monkeypatch.setattr(uv, "find_uv_bin", lambda: fake_uv)
    choice = choose("3.4.1", allow_download=True, candidates=[])
    assert choice.interpreter == Interpreter(str(target / "python3"), "3.4.1", "uv")
