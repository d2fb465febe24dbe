"""A new uv env's requirements come from uv's cache while the index confirms them (backends/speculative.py).

Real uv against a real PEP 503 index (http.server, pages revalidated on every request), uv's cache in the test's
own folder; uv's calls logged by a shim on its path that runs the real binary (the only stand-in: it counts them).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from envforge.backends.build_options import BuildOptions
from envforge.backends.run_options import RunOptions
from envforge.backends.speculative import differs
from envforge.backends.uv import UvBackend
from envforge.building.cached_envs import get_env
from envforge.spec import EnvSpec
from envforge.store.marker import read_marker
from tests.support import pep503
from tests.support.models import make_wheel
from tests.support.uv_log import log_uv_calls


@pytest.fixture
def uv_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = log_uv_calls(tmp_path, monkeypatch)
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))  # what this test's builds leave there, only
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    return log


def spec_for(*requirements: str) -> EnvSpec:
    return EnvSpec(backend="uv", python=platform.python_version(), python_source="test", build_dependencies=(),
                   requirements=requirements, constraints=(), index_options=(), code_wheels=(), file_hashes=())


def calls(log: Path) -> list[str]:
    """Each uv pip call of the log, as `install`, `install --offline` or `compile`."""
    kinds = []
    for line in log.read_text().splitlines() if log.exists() else []:
        words = line.split()
        if words[:1] == ["pip"] and words[1] in ("install", "compile"):
            kinds.append(words[1] + (" --offline" if "--offline" in words else ""))
    return kinds


def slow_index(tmp_path: Path) -> None:
    """The index answers after a second: the offline install reads uv's cache before the compile refreshes it.
    They share the cache, and on an index this fast the compile's revalidation of a page can come first: the offline
    install then finds no usable page ("efspec was not found in the cache") and the build goes online, correct but not
    the case under test (it failed about one run in three on a fast machine). The compile's answer decides either way."""
    (tmp_path / "index" / "delay-seconds").write_text("1.0")


@pytest.fixture
def index(tmp_path: Path):
    wheels = tmp_path / "dist"
    first = [make_wheel(wheels, "efspec", "1.0", "VALUE = 1\n"), make_wheel(wheels, "efdep", "1.0", "")]
    with pep503.serve(tmp_path / "index", first, no_cache=True) as served:
        yield served, wheels, first


def test_a_cached_resolution_installs_offline_and_is_confirmed_by_the_index(tmp_path: Path, uv_calls: Path, index) -> None:
    served, _, _ = index
    options, said = BuildOptions(index_url=served.simple), []
    first = UvBackend().build(spec_for("efspec", "efdep"), tmp_path, tmp_path / "env1", options, said.append)
    assert first.confirm is None  # uv's cache was empty: the offline try failed, the install ran online
    assert [c for c in calls(uv_calls) if c != "compile"] == ["install --offline", "install"]  # the compile: stopped
    uv_calls.unlink()
    slow_index(tmp_path)
    second = UvBackend().build(spec_for("efspec", "efdep"), tmp_path, tmp_path / "env2", options, said.append)
    assert sorted(calls(uv_calls)) == ["compile", "install --offline"]  # from the cache; the index asked by the compile alone
    assert second.confirm is not None and sorted(second.installed) == ["efdep==1.0", "efspec==1.0"]
    stopped = []
    assert second.confirm(lambda: stopped.append(True)) is None  # the index resolves to the very set installed
    assert not stopped and any("installed the requirements from uv's cache" in line for line in said), said
    assert "/simple/efspec/" in served.requests()


def test_a_release_uploaded_since_the_cache_was_filled_rebuilds_online(tmp_path: Path, uv_calls: Path, index) -> None:
    served, wheels, first = index
    options, said = BuildOptions(index_url=served.simple), []
    UvBackend().build(spec_for("efspec", "efdep"), tmp_path, tmp_path / "env1", options, said.append)
    pep503.write_tree(tmp_path / "index" / "www", [*first, make_wheel(wheels, "efspec", "2.0", "VALUE = 2\n")])  # uploaded now
    slow_index(tmp_path)
    uv_calls.unlink()
    guessed = UvBackend().build(spec_for("efspec", "efdep"), tmp_path, tmp_path / "env2", options, said.append)
    assert "efspec==1.0" in guessed.installed  # what uv's cache knew
    assert guessed.confirm is not None
    stopped = []
    rebuilt = guessed.confirm(lambda: stopped.append(sorted(p.name for p in (tmp_path / "env2").iterdir())))
    assert stopped and stopped[0], stopped  # the early runner stopped before the env was wiped
    assert rebuilt is not None and "efspec==2.0" in rebuilt.installed and rebuilt.confirm is None, rebuilt
    assert any("the index resolves otherwise now: efspec 1.0 -> 2.0: installing online instead" in line for line in said), said
    assert sorted(calls(uv_calls)) == ["compile", "install", "install --offline"]
    assert (tmp_path / "env2" / "bin" / "python").exists()


def test_an_offline_build_never_asks_the_index(tmp_path: Path, uv_calls: Path, index) -> None:
    served, _, _ = index
    UvBackend().build(spec_for("efspec"), tmp_path, tmp_path / "env1", BuildOptions(index_url=served.simple), lambda _: None)
    uv_calls.unlink()
    built = UvBackend().build(spec_for("efspec"), tmp_path, tmp_path / "env2", BuildOptions(offline=True, index_url=served.simple),
                              lambda _: None)
    assert built.confirm is None and "efspec==1.0" in built.installed
    assert calls(uv_calls) == ["install --offline"]


class Early:
    """verify's runner as get_env sees it (building/cached_envs.Early): what happened to it, in order, and whether
    the env had its marker then."""

    def __init__(self) -> None:
        self.events: list[tuple[str, bool]] = []
        self.dest: Path | None = None

    def start(self, env) -> None:
        self.dest = env.path
        self.events.append(("start", read_marker(env.path) is not None))

    def drop(self) -> None:
        assert self.dest is not None
        self.events.append(("drop", (self.dest / "bin" / "python").exists()))


def test_get_env_starts_early_before_the_marker_and_drops_it_before_a_rebuild(tmp_path: Path, uv_calls: Path, index) -> None:
    served, wheels, first = index
    options, spec = BuildOptions(index_url=served.simple), spec_for("efspec", "efdep")
    UvBackend().build(spec, tmp_path, tmp_path / "warmup", options, lambda _: None)  # fills uv's cache
    slow_index(tmp_path)
    early = Early()
    env = get_env(spec, tmp_path, UvBackend(), options, lambda _: None, run=RunOptions(sandbox="off"), early=early)
    assert early.events == [("start", False)]  # in the new env before it was marked reusable, and kept
    assert read_marker(env.path) is not None and "efspec==1.0" in env.installed
    pep503.write_tree(tmp_path / "index" / "www", [*first, make_wheel(wheels, "efspec", "2.0", "VALUE = 2\n")])
    slow_index(tmp_path)
    spec2 = spec_for("efspec", "efdep", "efspec>=0.1")  # another key, the same resolution from the stale cache
    early = Early()
    env = get_env(spec2, tmp_path, UvBackend(), options, lambda _: None, run=RunOptions(sandbox="off"), early=early)
    assert early.events == [("start", False), ("drop", True)]  # dropped while its env still stood
    assert "efspec==2.0" in env.installed and read_marker(env.path)["installed"] == list(env.installed)


class FailingEarly(Early):
    def start(self, env) -> None:
        self.dest = env.path
        raise RuntimeError("the runner could not start")


def test_a_build_failing_after_an_install_from_the_cache_stops_the_confirmation(tmp_path: Path, uv_calls: Path, index,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The index's confirmation (`uv pip compile`, online) is stopped when the build fails before it is awaited: it would
    otherwise go on asking the index, in a long verify-registry, until the build timeout."""
    import tempfile

    import psutil

    served, _, _ = index
    options, spec = BuildOptions(index_url=served.simple), spec_for("efspec", "efdep")
    UvBackend().build(spec, tmp_path, tmp_path / "warmup", options, lambda _: None)  # fills uv's cache
    (tmp_path / "index" / "delay-seconds").write_text("30")  # the compile is still waiting for the index when the build fails
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    with pytest.raises(RuntimeError, match="could not start"):
        get_env(spec_for("efspec", "efdep", "efdep>=0.1"), tmp_path, UvBackend(), options, lambda _: None,
                run=RunOptions(sandbox="off"), early=FailingEarly())
    assert "compile" in calls(uv_calls)  # the case under test: the install came from the cache, the index was being asked
    compiling = [p for p in psutil.Process().children(recursive=True) if "compile" in " ".join(p.cmdline())]
    assert not compiling, [p.cmdline() for p in compiling]
    assert not list(private.glob("envforge-confirm-*"))


def test_differs_compares_canonical_names_and_versions() -> None:
    assert differs(["Scikit_Learn==1.0", "numpy==2.0.0"], ["scikit-learn==1.0.0", "numpy==2.0"]) is None
    assert differs(["numpy==2.1"], ["numpy==2.0"]) == "the index resolves otherwise now: numpy 2.0 -> 2.1"
    assert differs(["a==1"], ["a==1", "b==2"]) == "the index resolves otherwise now: b 2 -> absent"
    assert "not a release of the index" in differs(["a==1"], ["a @ file:///x.whl"])


def test_a_confirmation_still_asking_when_the_process_exits_leaves_no_folder(tmp_path: Path, index) -> None:
    served, _, _ = index
    (tmp_path / "index" / "delay-seconds").write_text("30")  # the compile is still waiting for the index at exit
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("efspec\n")
    script = (
        "import os, sys, tempfile\n"
        "from pathlib import Path\n"
        "from envforge.backends.speculative import Confirmation\n"
        "from envforge.backends.tools import uv_bin\n"
        f"c = Confirmation(uv_bin(), sys.executable, Path({str(reqs)!r}), None, ['--index-url', {served.simple!r}], 60, {{}})\n"
        "print(os.listdir(tempfile.gettempdir()), flush=True)\n"
        "sys.exit(3)\n"
    )
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env={**os.environ, "TMPDIR": str(tmp)})
    assert done.returncode == 3, done.stderr
    assert "envforge-confirm-" in done.stdout  # the copy of the requirements the compile reads, while it runs
    assert not list(tmp.iterdir())  # removed at exit although the compile's thread never reached its `finally`
