"""Issue 34, point 3: a requirement with no wheel for the interpreter is named before any build, in seconds.

Real uv, a real source distribution in a local --find-links directory (no index, no network): the dry resolve
(`uv pip compile --only-binary :all:`) finds no wheel and the build stops with exit 3 and the remedies.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from envforge.backends import wheel_check
from envforge.backends.tools import uv_bin
from envforge.errors import EXIT_ENV, EnvBuildError


@pytest.fixture()
def sdist_only(tmp_path: Path) -> tuple[Path, list[str]]:
    links = tmp_path / "links"
    (links / "src" / "nowheel-0.1").mkdir(parents=True)
    (links / "src" / "nowheel-0.1" / "setup.py").write_text("from setuptools import setup\nsetup(name='nowheel', version='0.1')\n")
    with tarfile.open(links / "nowheel-0.1.tar.gz", "w:gz") as tar:
        tar.add(links / "src" / "nowheel-0.1", arcname="nowheel-0.1")
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("nowheel==0.1\n")
    return reqs, ["--no-index", "--find-links", str(links)]


def test_a_pin_without_a_wheel_stops_the_build_before_it_starts(sdist_only: tuple[Path, list[str]]) -> None:
    reqs, index = sdist_only
    with pytest.raises(EnvBuildError) as caught:
        wheel_check.check(uv_bin(), reqs, "3.11.7", index, [], dict(os.environ), allow=False)
    assert caught.value.exit_code == EXIT_ENV
    assert "nowheel==0.1" in caught.value.message and "build from source" in caught.value.message
    assert "--allow-source-builds" in caught.value.remedy and "--backend conda" in caught.value.remedy


def test_allow_source_builds_goes_ahead(sdist_only: tuple[Path, list[str]]) -> None:
    reqs, index = sdist_only
    wheel_check.check(uv_bin(), reqs, "3.11.7", index, [], dict(os.environ), allow=True)  # no error: the build may go on


def test_the_pins_are_read_from_uvs_message() -> None:
    said = "Because scikit-learn==0.23.2 has no usable wheels and building from source is disabled, we can conclude..."
    assert wheel_check.no_wheels(said) == ["scikit-learn==0.23.2"]


def test_a_conda_pip_section_locked_to_a_source_archive_stops_before_installing() -> None:
    from envforge.backends.conda.pip_lock import PipPackage

    wheel = PipPackage("numpy", "1.26.4", "https://files.example/numpy-1.26.4-cp39-cp39-manylinux_2_17_x86_64.whl", "a" * 64)
    sdist = PipPackage("scikit-learn", "0.23.2", "https://files.example/scikit-learn-0.23.2.tar.gz", "b" * 64)
    wheel_check.check_locked([wheel], "3.9.18", allow=False)  # wheels only: nothing to say
    with pytest.raises(EnvBuildError) as caught:
        wheel_check.check_locked([wheel, sdist], "3.9.18", allow=False)
    assert caught.value.exit_code == EXIT_ENV
    assert "scikit-learn==0.23.2" in caught.value.message and "numpy" not in caught.value.message
    assert "Python 3.9.18" in caught.value.message and "--allow-source-builds" in caught.value.remedy
    wheel_check.check_locked([wheel, sdist], "3.9.18", allow=True)


def test_pyspark_a_source_only_package_that_only_packages_passes_but_others_do_not(tmp_path: Path) -> None:
    """pyspark publishes no wheels (backends/pure_sdists.py): a Spark model's pin must not stop the build; any other
    source-only pin beside it still does. A local source archive named pyspark stands in for the 317 MB one."""
    links = tmp_path / "links"
    for name in ("pyspark", "nowheel"):
        src = links / "src" / f"{name}-0.1"
        src.mkdir(parents=True)
        (src / "pyproject.toml").write_text(f'[build-system]\nrequires = ["setuptools"]\n[project]\nname = "{name}"\nversion = "0.1"\n')
        (src / "PKG-INFO").write_text(f"Metadata-Version: 2.2\nName: {name}\nVersion: 0.1\n")  # read without a build (offline)
        with tarfile.open(links / f"{name}-0.1.tar.gz", "w:gz") as tar:
            tar.add(src, arcname=f"{name}-0.1")
    index = ["--no-index", "--find-links", str(links)]
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("pyspark==0.1\n")
    wheel_check.check(uv_bin(), reqs, "3.11.7", index, [], dict(os.environ), allow=False)  # no error
    reqs.write_text("pyspark==0.1\nnowheel==0.1\n")
    with pytest.raises(EnvBuildError) as caught:
        wheel_check.check(uv_bin(), reqs, "3.11.7", index, [], dict(os.environ), allow=False)
    assert "nowheel==0.1" in caught.value.message and "pyspark" not in caught.value.message
