"""cache list / prune on env directories laid out like get_env's, with real file locks.

The envs are directories with a state marker and files of known sizes (building real envs is
the integration tests' job: integration/test_debug_commands.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from envforge.building import prune as cache_admin
from envforge.cli import cache_commands
from envforge.errors import UsageError
from envforge.store.filelocks import locked, using
from envforge.store.layout import env_lock_name
from envforge.store.marker import MARKER
from envforge.store.usage import USED, note_use

DAY = 86400.0


@pytest.fixture
def envs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ENVFORGE_HOME", str(tmp_path / "home"))
    root = tmp_path / "home" / "envs"
    root.mkdir(parents=True)
    return root


def _make(root: Path, key: str, size: int, age_days: float, *, marker: bool = True) -> Path:
    path = root / f"uv-{key[:24]}"
    (path / "lib").mkdir(parents=True)
    (path / "lib" / "blob").write_bytes(b"x" * size)
    os.link(path / "lib" / "blob", path / "lib" / "blob-hardlink")  # counted once
    if marker:
        (path / MARKER).write_text(json.dumps({"key": key, "backend": "uv", "python_version": "3.11.7", "built_at": 1.0}))
    note_use(path, key, f"models:/m-{key[:4]}")
    stamp = time.time() - age_days * DAY
    os.utime(path / USED, (stamp, stamp))
    return path


def _du(*paths: Path | str, flag: str = "") -> int:
    """GNU du's bytes on disk for `paths` together (a file linked from several of them counted once)."""
    argv = ["du", "-scB1", *([flag] if flag else []), *map(str, paths)]
    return int(subprocess.run(argv, capture_output=True, text=True, check=True).stdout.splitlines()[-1].split()[0])


def test_list_reports_key_backend_python_size_last_use_and_models(envs: Path) -> None:
    path = _make(envs, "a" * 64, 5000, 2)
    note_use(path, "a" * 64, "models:/other/1")
    os.utime(path / USED, (time.time() - 2 * DAY, time.time() - 2 * DAY))
    _make(envs, "b" * 64, 100, 0)
    listed = cache_admin.list_envs()
    assert [e.key for e in listed] == ["b" * 64, "a" * 64]  # most recently used first
    first = listed[1]
    assert (first.backend, first.python, first.complete) == ("uv", "3.11.7", True)
    # bytes on disk as du counts them (the hardlink once); du -l would count it twice
    assert first.size == _du(first.path) < _du(first.path, flag="-l")
    assert first.models == ("models:/m-aaaa", "models:/other/1")
    assert 1.9 * DAY < time.time() - first.last_used < 2.1 * DAY


def test_prune_by_age_then_by_size_oldest_first(envs: Path) -> None:
    old = _make(envs, "a" * 64, 1000, 30)
    mid = _make(envs, "b" * 64, 1000, 10)
    new = _make(envs, "c" * 64, 1000, 1)
    unfinished = _make(envs, "d" * 64, 10, 20, marker=False)
    pruned = cache_admin.prune(older_than=14 * DAY)
    assert {e.path for e in pruned.removed} == {old, unfinished}
    assert not old.exists() and not unfinished.exists() and mid.exists() and new.exists()
    sizes = {e.path: e.size for e in cache_admin.list_envs()}
    pruned = cache_admin.prune(max_size=sizes[new] + sizes[mid] // 2)
    assert [e.path for e in pruned.removed] == [mid]
    assert new.exists() and [e.path for e in pruned.kept] == [new]


def test_prune_skips_envs_whose_lock_or_use_lock_is_held(envs: Path) -> None:
    building = _make(envs, "a" * 64, 10, 30)
    used = _make(envs, "b" * 64, 10, 30)
    idle = _make(envs, "c" * 64, 10, 30)
    with locked(env_lock_name("a" * 64)), using(env_lock_name("b" * 64)):
        dry = cache_admin.prune(everything=True, dry_run=True)
        assert [e.path for e in dry.removed] == [idle] and idle.exists()
        pruned = cache_admin.prune(everything=True)
    assert {e.path for e in pruned.in_use} == {building, used}
    assert building.exists() and used.exists() and not idle.exists()
    assert {e.path for e in cache_admin.prune(everything=True).removed} == {building, used}


def test_prune_needs_a_criterion_and_parses_ages_and_sizes(envs: Path) -> None:
    with pytest.raises(UsageError):
        cache_admin.prune()
    assert cache_commands.parse_duration("14d") == 14 * DAY
    assert cache_commands.parse_duration("12h") == 12 * 3600
    assert cache_commands.parse_size("5G") == 5 * 1024**3
    assert cache_commands.parse_size("1.5GiB") == int(1.5 * 1024**3)
    assert cache_commands.parse_size("500m") == 500 * 1024**2
    for bad in ("14", "two days", "-1d"):
        with pytest.raises(UsageError):
            cache_commands.parse_duration(bad)
    with pytest.raises(UsageError):
        cache_commands.parse_size("5 lots")


def test_max_size_counts_an_env_in_use_which_stays(envs: Path) -> None:
    """The limit is the cache's size on disk: an env in use counts toward it (whether or not --older-than
    also selected it), is never removed, and the prune says the cache is still over the limit."""
    held = _make(envs, "a" * 64, 1000, 30)
    mid = _make(envs, "b" * 64, 1000, 10)
    new = _make(envs, "c" * 64, 1000, 1)
    sizes = {e.path: e.size for e in cache_admin.list_envs()}
    with using(env_lock_name("a" * 64)):
        pruned = cache_admin.prune(max_size=sizes[held] + sizes[new] + sizes[mid] // 2)
        assert [e.path for e in pruned.removed] == [mid] and [e.path for e in pruned.in_use] == [held]
        assert [e.path for e in pruned.kept] == [new] and pruned.warnings == []
        pruned = cache_admin.prune(older_than=14 * DAY, max_size=sizes[held] // 2)  # the held env alone is over it
        assert [e.path for e in pruned.removed] == [new] and [e.path for e in pruned.in_use] == [held]
        assert len(pruned.warnings) == 1 and "over the limit" in pruned.warnings[0] and "in use" in pruned.warnings[0]
    assert held.exists() and not mid.exists() and not new.exists()


def test_files_shared_between_envs_count_once_so_list_equals_du_and_prune_removes_only_what_it_must(envs: Path, tmp_path: Path) -> None:
    """Issue 30, point 7: uv links one package file into every env; counted once per env, "3 env(s), 1.9G" was 799 MB on
    disk and --max-size removed envs it did not need to. Sizes now add up to du of the cache."""
    installer_cache = tmp_path / "uv-cache"
    installer_cache.mkdir()
    package = installer_cache / "numpy-core.so"
    package.write_bytes(os.urandom(2 * 1024**2))  # 2 MiB, like a real package file, linked into each env
    paths = []
    for i, key in enumerate(("a" * 64, "b" * 64, "c" * 64)):
        path = _make(envs, key, 1000, 10 - 3 * i)
        os.link(package, path / "lib" / "numpy-core.so")
        paths.append(path)
    listed = cache_admin.list_envs()
    assert sum(e.size for e in listed) == _du(*paths)  # cache list's total is du's
    assert sum(e.size for e in listed) < 3 * 1024**2  # not 3 x 2 MiB
    run = subprocess.run([sys.executable, "-m", "envforge", "cache", "list", "--json"], capture_output=True, text=True,
                         env={**os.environ, "ENVFORGE_HOME": str(envs.parent)}, check=True)
    assert sum(e["size"] for e in json.loads(run.stdout)["envs"]) == _du(*paths)
    text = subprocess.run([sys.executable, "-m", "envforge", "cache", "list"], capture_output=True, text=True,
                          env={**os.environ, "ENVFORGE_HOME": str(envs.parent), "COLUMNS": "200"}, check=True).stdout
    assert f"3 env(s), {cache_commands.human_size(_du(*paths))}" in text
    # The cache is ~2.1 MiB on disk: a 2.5 MiB limit removes nothing; inflated sizes (~6 MiB) removed two envs.
    assert cache_admin.prune(max_size=int(2.5 * 1024**2)).removed == []
    assert all(p.exists() for p in paths)
