"""The uv backend resolves once: its install runs wheels-only, and the dry resolve that explains a refused
source build (backends/wheel_check.py) runs only when the install refused one (issue 33: a cold build paid
for a whole `uv pip compile` before every install).

Real uv, logged by a shim on its path that runs the real binary (the only stand-in: it counts the calls).
"""

from __future__ import annotations

import platform
import tarfile
from pathlib import Path

import pytest

from envforge.backends import tools
from envforge.backends.build_options import BuildOptions
from envforge.backends.uv import UvBackend
from envforge.errors import EnvBuildError
from envforge.spec import EnvSpec
from tests.support.models import make_wheel


@pytest.fixture
def uv_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """uv's calls, one line each, from a shim that execs the real uv."""
    log, shim = tmp_path / "uv-calls.log", tmp_path / "uv-shim"
    shim.write_text(f'#!/bin/sh\necho "$@" >> "{log}"\nexec "{tools.uv_bin()}" "$@"\n')
    shim.chmod(0o755)
    monkeypatch.setattr(tools, "_uv", str(shim))
    return log


def spec_for(requirement: Path | str) -> EnvSpec:
    return EnvSpec(backend="uv", python=platform.python_version(), python_source="test", build_dependencies=(),
                   requirements=(str(requirement),), constraints=(), index_options=(), code_wheels=(), file_hashes=())


def sdist(where: Path) -> Path:
    (where / "src" / "nowheel-0.1").mkdir(parents=True)
    (where / "src" / "nowheel-0.1" / "setup.py").write_text("from setuptools import setup\nsetup(name='nowheel', version='0.1')\n")
    with tarfile.open(where / "nowheel-0.1.tar.gz", "w:gz") as tar:
        tar.add(where / "src" / "nowheel-0.1", arcname="nowheel-0.1")
    return where / "nowheel-0.1.tar.gz"


def test_a_build_of_wheels_resolves_once_with_the_install_itself_wheels_only(tmp_path: Path, uv_calls: Path) -> None:
    wheel = make_wheel(tmp_path / "wheels", "efonce", "1.0", "VALUE = 1\n")
    built = UvBackend().build(spec_for(wheel), tmp_path, tmp_path / "env", BuildOptions(offline=True), lambda _: None)
    assert built.installed and any(line.startswith("efonce") for line in built.installed)
    calls = uv_calls.read_text().splitlines()
    assert not [c for c in calls if c.startswith("pip compile")], calls  # no dry resolve before the install
    installs = [c for c in calls if c.startswith("pip install")]
    assert len(installs) == 1 and "--only-binary :all:" in installs[0] and "--no-binary pyspark" in installs[0], calls


def test_a_refused_source_build_is_explained_by_the_dry_resolve(tmp_path: Path, uv_calls: Path) -> None:
    links = sdist(tmp_path / "links").parent  # a pin found in a --find-links directory, as an index serves it
    with pytest.raises(EnvBuildError) as err:
        UvBackend().build(spec_for("nowheel==0.1"), tmp_path, tmp_path / "env", BuildOptions(offline=True, find_links=(str(links),)),
                          lambda _: None)
    assert "finds no wheel for `nowheel==0.1`: installing would build from source" in str(err.value), err.value
    assert "--allow-source-builds" in err.value.remedy
    calls = uv_calls.read_text().splitlines()
    assert [c.split()[:2] for c in calls if c.startswith("pip ")][:2] == [["pip", "install"], ["pip", "compile"]], calls


def test_allow_source_builds_installs_without_wheels_only(tmp_path: Path, uv_calls: Path) -> None:
    built = UvBackend().build(spec_for(sdist(tmp_path / "links")), tmp_path, tmp_path / "env",
                              BuildOptions(offline=True, allow_source_builds=True), lambda _: None)
    assert any(line.startswith("nowheel") for line in built.installed), built.installed
    calls = uv_calls.read_text().splitlines()
    assert not [c for c in calls if "--only-binary" in c or c.startswith("pip compile")], calls
