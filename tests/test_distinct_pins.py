"""building/distinct_pins.py and its use by same_resolution.merge: an env whose exact pins rule out every other env
is not resolved before a registry run's builds (issue 33: the plan's `uv pip compile` per env, seconds each, was most
of verify-registry's time outside its groups), and its resolution is still recorded for the next run."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from envforge.backends.base import BuildOptions
from envforge.building import distinct_pins, same_resolution
from envforge.spec import EnvSpec

BASE = ("mlflow==3.1.0", "scikit-learn==1.5.2", "joblib==1.4.0")


def _spec(*extra: str, day: str = "01") -> EnvSpec:
    return EnvSpec(backend="uv", python="3.11.9", python_source="python_env.yaml", build_dependencies=("pip",),
                   requirements=BASE + extra, constraints=(), index_options=(), code_wheels=(), file_hashes=(),
                   resolved_as_of=f"2026-01-{day}T23:59:59Z")


def test_only_certain_pins_prove_two_envs_differ() -> None:
    pins = distinct_pins.exact_pins
    assert not distinct_pins.differ(pins(["numpy==2.0"]), pins(["numpy==2.0.0"]))  # PEP 440: the same version
    assert not distinct_pins.differ(pins(["torch==2.1"]), pins(["torch==2.1+cpu"]))  # ==2.1 matches 2.1+cpu
    assert distinct_pins.differ(pins(["Scikit_Learn==1.5.2"]), pins(["scikit-learn==1.6.0"]))
    assert pins(["numpy==2.*", "pandas==2.2; python_version < '3.9'", "six>=1", "x @ https://h/x.whl", "-r other.txt"]) == {}
    assert pins(["scipy[dev]==1.13.0"]) == pins(["scipy==1.13.0"])
    assert pins(["a==1", "a==2"]) == {}  # pinned twice otherwise: uv says what is wrong, nothing is proven


class _Resolver:
    """same_resolution.resolve as the run calls it, each call noted with whether merge had returned. A call for a key
    in `later` first waits (up to 5 s) for merge to return: a call merge awaits cannot see that. The digest stands in
    for uv's answer: the requirement lines without the cutoff (every day resolves alike)."""

    def __init__(self, later: set[str]) -> None:
        self.later = later
        self.calls: list[tuple[str, bool]] = []
        self.merged = threading.Event()

    def __call__(self, spec: EnvSpec, model_dir: Path, options: BuildOptions) -> str:
        self.calls.append((spec.key, self.merged.wait(5.0) if spec.key in self.later else self.merged.is_set()))
        return same_resolution.resolution_digest(spec, "3.11.9", list(spec.requirements))


def _merge(specs: list[EnvSpec], later: set[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
           built: frozenset[str] = frozenset()) -> tuple[dict[str, str], _Resolver]:
    monkeypatch.setenv("ENVFORGE_HOME", str(tmp_path))
    resolver = _Resolver(later)
    monkeypatch.setattr(same_resolution, "resolve", resolver)
    loaded = {s.key: SimpleNamespace(spec=s, model=SimpleNamespace(path=tmp_path)) for s in specs}
    shared = same_resolution.merge([s.key for s in specs], loaded, lambda k: k in built, BuildOptions())
    resolver.merged.set()
    getattr(same_resolution, "settle", lambda: None)()  # the background records (on main before issue 33: none)
    return shared, resolver


def _records(home: Path) -> dict[str, str]:
    return {json.loads(p.read_text())["digest"]: json.loads(p.read_text())["key"] for p in (home / "resolutions").glob("*.json")}


def test_envs_whose_pins_differ_are_resolved_after_the_plan_and_still_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    specs = [_spec(f"threadpoolctl==3.{minor}.0") for minor in (5, 6, 7)]
    shared, resolver = _merge(specs, {s.key for s in specs}, tmp_path, monkeypatch)
    assert shared == {}
    assert [merged for _, merged in resolver.calls] == [True, True, True]  # none awaited by the plan: the builds start at once
    assert sorted(_records(tmp_path).values()) == sorted(s.key for s in specs)  # the next run can share them


def test_envs_that_may_resolve_alike_are_still_resolved_first_and_shared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nightly = [_spec("threadpoolctl==3.5.0", day="01"), _spec("threadpoolctl==3.5.0", day="02")]  # same pins, other days
    other = _spec("threadpoolctl==3.6.0")
    shared, resolver = _merge([*nightly, other], {other.key}, tmp_path, monkeypatch)
    assert shared == {nightly[1].key: nightly[0].key}
    assert sorted((k, merged) for k, merged in resolver.calls) == sorted([(nightly[0].key, False), (nightly[1].key, False),
                                                                         (other.key, True)])


def test_an_env_that_may_resolve_like_a_built_one_is_resolved_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from envforge.store.layout import env_dir
    from envforge.store.marker import write_marker

    monkeypatch.setenv("ENVFORGE_HOME", str(tmp_path))
    old = _spec("threadpoolctl==3.5.0", day="01")
    digest = same_resolution.resolution_digest(old, "3.11.9", list(old.requirements))
    (tmp_path / "resolutions").mkdir()
    (tmp_path / "resolutions" / f"{digest[:24]}.json").write_text(json.dumps({"digest": digest, "key": old.key}))
    env_dir("uv", old.key).mkdir(parents=True)
    write_marker(env_dir("uv", old.key), {"key": old.key, "spec": {"requirements": list(old.requirements)}})
    new = replace(old, resolved_as_of="2026-01-09T23:59:59Z")  # tonight's version: its own key, pins alike
    alone = _spec("threadpoolctl==3.6.0")
    shared, resolver = _merge([new, alone], {alone.key}, tmp_path, monkeypatch, built=frozenset({old.key}))
    assert shared == {new.key: old.key}
    assert sorted(resolver.calls) == sorted([(new.key, False), (alone.key, True)])
