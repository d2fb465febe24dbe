"""A build that fails on a full disk is called out of space even when the installer's own words do not say so
(building/cached_envs.py). Filling a real disk needs root and a tmpfs: integration/test_interruption.py does that;
here os.statvfs is the one thing replaced, answering "full" for as long as the half-built env exists (which is
what a full disk looks like from inside a build), so the test also shows the check comes before the wipe."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import pytest

from envforge.backends.base import BuildOptions
from envforge.backends.run_options import RunOptions
from envforge.building.cached_envs import get_env
from envforge.errors import EnvBuildError
from envforge.spec import EnvSpec

UV_SAID = ("Installing the model's requirements with uv failed: Failed to read `narwhals==2.29.0`.\n"
           "cause: failed to open file `.../narwhals-2.29.0.dist-info/METADATA`: No such file or directory (os error 2)\n")


class FailingBackend:
    """Writes part of an env, then fails as uv did when the disk filled while it copied a package."""

    name = "uv"

    def build(self, spec: EnvSpec, model_dir: Path, dest: Path, options: BuildOptions, log: object) -> None:
        (dest / "lib").mkdir(parents=True)
        (dest / "lib" / "half.py").write_text("x = 1\n")
        raise EnvBuildError(UV_SAID, "Check that every pinned version exists on the package index.")


def _spec() -> EnvSpec:
    return EnvSpec(backend="uv", python=platform.python_version(), python_source="test", build_dependencies=(),
                   requirements=("six==1.16.0",), constraints=(), index_options=(), code_wheels=(), file_hashes=())


def _statvfs_full_while_building(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    real = os.statvfs

    def statvfs(path: os.PathLike[str] | str) -> os.statvfs_result:
        found = real(path)
        envs = home / "envs"
        if not Path(path).is_relative_to(envs) or not any(p.name.startswith("uv-") for p in envs.iterdir()):
            return found
        values = list(found)
        values[3] = values[4] = 10  # f_bfree, f_bavail: 10 blocks
        return os.statvfs_result(values)

    monkeypatch.setattr(os, "statvfs", statvfs)


def _build(tmp_path: Path) -> EnvBuildError:
    with pytest.raises(EnvBuildError) as raised:
        get_env(_spec(), tmp_path, FailingBackend(), BuildOptions(), lambda _line: None, run=RunOptions(sandbox=False))
    return raised.value


def test_an_installer_failing_on_a_full_disk_is_out_of_space_whatever_it_said(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVFORGE_HOME", str(tmp_path / "home"))
    _statvfs_full_while_building(monkeypatch, tmp_path / "home")
    error = _build(tmp_path)
    assert "ran out of space" in error.message and "narwhals" in error.message, error.message
    assert "cache prune" in error.remedy
    assert not [p for p in (tmp_path / "home" / "envs").iterdir() if p.name.startswith("uv-")]  # the partial build is gone


def test_the_same_failure_with_room_on_the_disk_keeps_the_installer_s_words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVFORGE_HOME", str(tmp_path / "home"))
    error = _build(tmp_path)
    assert "ran out of space" not in error.message and error.message.startswith("Installing the model's requirements"), error.message
