"""building/same_resolution.py without a network: what makes two envs the same, and the store's memory of it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from envforge.building import same_resolution
from envforge.spec import EnvSpec

PINS = ["numpy==2.1.0", "pandas==2.2.3", "six==1.17.0"]


def _spec(**changes: object) -> EnvSpec:
    base = EnvSpec(backend="uv", python="3.11.9", python_source="python_env.yaml", build_dependencies=("pip",),
                   requirements=("pandas==2.2.3",), constraints=(), index_options=(), code_wheels=(), file_hashes=(),
                   resolved_as_of="2026-01-01T23:59:59Z")
    return replace(base, **changes)


def test_the_digest_ignores_what_was_asked_but_not_what_was_resolved() -> None:
    digest = same_resolution.resolution_digest(_spec(), "3.11.9", PINS)
    asked_otherwise = _spec(requirements=("pandas==2.2.3", "six"), constraints=("numpy<3",), resolved_as_of="2026-02-01T23:59:59Z")
    assert same_resolution.resolution_digest(asked_otherwise, "3.11.9", list(reversed(PINS))) == digest
    assert asked_otherwise.key != _spec().key  # ... though the env keys differ
    assert same_resolution.resolution_digest(_spec(), "3.11.9", [*PINS[:2], "six==1.16.0"]) != digest
    assert same_resolution.resolution_digest(_spec(), "3.11.4", PINS) != digest
    assert same_resolution.resolution_digest(_spec(index_options=("--index-url https://mirror.example/simple",)), "3.11.9", PINS) != digest


def test_only_envs_whose_resolution_is_the_whole_env_are_shared() -> None:
    assert same_resolution.shareable(_spec())
    assert not same_resolution.shareable(_spec(backend="virtualenv"))  # pip may resolve otherwise than uv
    assert not same_resolution.shareable(_spec(code_wheels=("./code/x.whl",)))  # installed after, with their own deps
    assert not same_resolution.shareable(_spec(file_hashes=(("./x.whl", "0" * 64),)))
    assert not same_resolution.shareable(_spec(shared_key="f" * 64))


def test_a_shared_spec_takes_the_other_key_and_keeps_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVFORGE_HOME", str(tmp_path))
    mine, theirs = _spec(requirements=("pandas==2.2.3", "six")), _spec()
    assert same_resolution.adopt(mine) == mine  # nothing found yet: its own env
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / f"{mine.key[:24]}.json").write_text(f'{{"own_key": "{mine.key}", "key": "{theirs.key}"}}')
    adopted = same_resolution.adopt(mine)
    assert adopted.key == theirs.key and adopted.own_key == mine.key
    assert same_resolution.sharing() == {theirs.key: [mine.key]}
    other = _spec(requirements=("pandas==2.2.3", "six", "numpy"))  # a file under another key's prefix is not this spec's
    (tmp_path / "shared" / f"{other.key[:24]}.json").write_text(f'{{"own_key": "{"0" * 64}", "key": "{theirs.key}"}}')
    assert same_resolution.adopt(other) == other
