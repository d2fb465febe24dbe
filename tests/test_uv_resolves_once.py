"""The uv backend resolves once, and a resolution that can no longer change not again (issue 33).

- Its install runs wheels-only, and the dry resolve that explains a refused source build (backends/wheel_check.py)
  runs only when the install refused one: a cold build paid for a whole `uv pip compile` before every install.
- A build whose cutoff moment had passed keeps the set it installed (backends/settled.py); the next build of the
  same spec installs it offline, from uv's cache, and resolves online only when the cache lost a file.

Real uv, logged by a shim on its path that runs the real binary (the only stand-in: it counts the calls).
"""

from __future__ import annotations

import json
import platform
import tarfile
from pathlib import Path

import pytest

from envforge.backends import tools
from envforge.backends.base import Built
from envforge.backends.build_options import BuildOptions
from envforge.backends.uv import UvBackend
from envforge.errors import EnvBuildError
from envforge.spec import EnvSpec
from tests.support.models import make_wheel
from tests.support.uv_log import log_uv_calls


@pytest.fixture
def uv_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """uv's calls, one line each, from a shim that execs the real uv."""
    return log_uv_calls(tmp_path, monkeypatch)


def spec_for(requirement: Path | str, as_of: str | None = None) -> EnvSpec:
    return EnvSpec(backend="uv", python=platform.python_version(), python_source="test", build_dependencies=(),
                   requirements=(str(requirement),), constraints=(), index_options=(), code_wheels=(), file_hashes=(),
                   resolved_as_of=as_of)


@pytest.fixture
def setuptools_cached(tmp_path: Path) -> None:
    """An offline source build needs setuptools in uv's cache (its build isolation); a new machine's cache has none
    until some test installed it online, so the tests that build offline put it there first, online."""
    import subprocess

    subprocess.run([tools.uv_bin(), "pip", "install", "--quiet", "--target", str(tmp_path / "setuptools"), "setuptools>=40.8.0"], check=True)


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


def test_allow_source_builds_installs_without_wheels_only(tmp_path: Path, setuptools_cached: None, uv_calls: Path) -> None:
    built = UvBackend().build(spec_for(sdist(tmp_path / "links")), tmp_path, tmp_path / "env",
                              BuildOptions(offline=True, allow_source_builds=True), lambda _: None)
    assert any(line.startswith("nowheel") for line in built.installed), built.installed
    calls = uv_calls.read_text().splitlines()
    assert not [c for c in calls if "--only-binary" in c or c.startswith("pip compile")], calls


def installs(log: Path) -> list[str]:
    return [c for c in log.read_text().splitlines() if c.startswith("pip install")]


def confirmed(built: Built) -> Built:
    """The build's report once the index confirmed an install from uv's cache (backends/speculative.py), as
    building/cached_envs.get_env awaits it."""
    return (built.confirm(lambda: None) or built) if built.confirm is not None else built


def build_twice(tmp_path: Path, as_of: str, between=lambda: None) -> tuple[list[str], list[str], list[str]]:
    """Two builds of one spec (the env removed between, as a cold verify finds it); their installed sets and logs."""
    links = make_wheel(tmp_path / "links", "efsettled", "1.0", "VALUE = 1\n").parent
    spec, options, said = spec_for("efsettled", as_of), BuildOptions(find_links=(str(links),)), []
    first = confirmed(UvBackend().build(spec, tmp_path, tmp_path / "env1", options, said.append))
    between()
    second = confirmed(UvBackend().build(spec, tmp_path, tmp_path / "env2", options, said.append))
    return list(first.installed), list(second.installed), said


def kept(log: Path) -> list[bool]:
    """For each install: whether it installed a kept resolution (settled-constraints, offline)."""
    return [("settled-constraints" in c and "--offline" in c) for c in installs(log)]


def test_a_settled_resolution_is_installed_again_offline(tmp_path: Path, uv_calls: Path) -> None:
    first, second, said = build_twice(tmp_path, "2025-06-01T23:59:59Z")
    assert first == second == ["efsettled==1.0"]
    assert kept(uv_calls)[-1:] == [True] and kept(uv_calls).count(True) == 1, installs(uv_calls)
    assert "--exclude-newer 2025-06-01T23:59:59Z" in installs(uv_calls)[-1]
    assert len([c for c in uv_calls.read_text().splitlines() if c.startswith("pip compile")]) == 1  # the first build's confirmation
    assert any("installed the resolution kept for 2025-06-01T23:59:59Z" in line for line in said), said


def test_a_moment_not_yet_passed_is_resolved_online_each_time(tmp_path: Path, uv_calls: Path) -> None:
    from datetime import datetime, timedelta, timezone

    soon = (datetime.now(timezone.utc) + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    build_twice(tmp_path, soon)
    assert not any(kept(uv_calls)) and len([c for c in uv_calls.read_text().splitlines() if c.startswith("pip compile")]) == 2
    assert not (tmp_path / "home" / "settled").exists()


def test_a_kept_resolution_the_cache_cannot_serve_falls_back_to_resolving_online(tmp_path: Path, uv_calls: Path) -> None:
    def lose_the_file() -> None:  # the kept pin names a release uv's cache never held (as after `uv cache clean`)
        kept = next((tmp_path / "home" / "settled").glob("*.json"))
        kept.write_text(kept.read_text().replace("efsettled==1.0", "efsettled==9.9"))

    first, second, said = build_twice(tmp_path, "2025-06-01T23:59:59Z", lose_the_file)
    assert second == first == ["efsettled==1.0"]
    assert kept(uv_calls).count(True) == 1 and not kept(uv_calls)[-1], installs(uv_calls)  # tried, then resolved again
    assert any("resolving online" in line for line in said), said


def test_the_notes_of_a_kept_resolution_are_said_again(tmp_path: Path, uv_calls: Path) -> None:
    """What the index left out of the first resolution (cutoff's notes) is as true of the set installed from it."""
    def noted() -> None:
        kept = next((tmp_path / "home" / "settled").glob("*.json"))
        data = json.loads(kept.read_text())
        assert data["notes"] == []  # a local find-links file has no upload time to miss: nothing to say
        kept.write_text(json.dumps({**data, "notes": ["the package index serves no upload time for `x.whl`"]}))

    links = make_wheel(tmp_path / "links", "efsettled", "1.0", "VALUE = 1\n").parent
    spec, options = spec_for("efsettled", "2025-06-01T23:59:59Z"), BuildOptions(find_links=(str(links),))
    confirmed(UvBackend().build(spec, tmp_path, tmp_path / "env1", options, lambda _: None))
    noted()
    again = UvBackend().build(spec, tmp_path, tmp_path / "env2", options, lambda _: None)
    assert again.notes == ("the package index serves no upload time for `x.whl`",)


def test_constraints_that_pin_a_source_only_release_build_it_as_before(tmp_path: Path, setuptools_cached: None, uv_calls: Path) -> None:
    """A runtime profile's constraints may pin a release with no wheel for the env's Python (Databricks 15.4 pins
    sqlalchemy 1.4.39, sdist-only on 3.11): the requirements alone resolve to wheels, so the dry resolve lets the
    build go ahead, and the install builds the pinned release, as it did when the dry resolve ran first."""
    links = sdist(tmp_path / "links").parent  # nowheel 0.1: a source archive only
    make_wheel(links, "nowheel", "0.2", "VALUE = 2\n")  # nowheel 0.2: a wheel
    spec = EnvSpec(backend="uv", python=platform.python_version(), python_source="test", build_dependencies=(),
                   requirements=("nowheel",), constraints=("nowheel==0.1",), index_options=(), code_wheels=(), file_hashes=())
    built = UvBackend().build(spec, tmp_path, tmp_path / "env", BuildOptions(offline=True, find_links=(str(links),)), lambda _: None)
    assert "nowheel==0.1" in built.installed, built.installed
    calls = [c.split()[:2] + (["wheels-only"] if "--only-binary" in c else []) for c in uv_calls.read_text().splitlines() if c.startswith("pip ")]
    assert calls[:3] == [["pip", "install", "wheels-only"], ["pip", "compile", "wheels-only"], ["pip", "install"]], calls
