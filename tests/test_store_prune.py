"""cache list / prune on env directories laid out like get_env's, with real file locks.

The envs are directories with a state marker and files of known sizes (building real envs is
the integration tests' job: integration/test_debug_commands.py)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from envforge.cli import cache_commands
from envforge.errors import UsageError
from envforge.store import prune as cache_admin
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


def test_list_reports_key_backend_python_size_last_use_and_models(envs: Path) -> None:
    path = _make(envs, "a" * 64, 5000, 2)
    note_use(path, "a" * 64, "models:/other/1")
    os.utime(path / USED, (time.time() - 2 * DAY, time.time() - 2 * DAY))
    _make(envs, "b" * 64, 100, 0)
    listed = cache_admin.list_envs()
    assert [e.key for e in listed] == ["b" * 64, "a" * 64]  # most recently used first
    first = listed[1]
    assert (first.backend, first.python, first.complete) == ("uv", "3.11.7", True)
    assert 5000 <= first.size < 5000 + 4096 and first.size < 10000  # the hardlink is not counted twice
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
    pruned = cache_admin.prune(max_size=1500)
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
    with using(env_lock_name("a" * 64)):
        pruned = cache_admin.prune(max_size=2500)
        assert [e.path for e in pruned.removed] == [mid] and [e.path for e in pruned.in_use] == [held]
        assert [e.path for e in pruned.kept] == [new] and pruned.warnings == []
        pruned = cache_admin.prune(older_than=14 * DAY, max_size=1000)  # the held env alone is over it
        assert [e.path for e in pruned.removed] == [new] and [e.path for e in pruned.in_use] == [held]
        assert len(pruned.warnings) == 1 and "over the limit" in pruned.warnings[0] and "in use" in pruned.warnings[0]
    assert held.exists() and not mid.exists() and not new.exists()
