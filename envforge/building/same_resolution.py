"""Envs whose exact resolutions are identical share one build and one runner (issue 33).

An env is keyed by what the model asks for (EnvSpec.key): its requirement lines, constraints and, under the
default `--resolve logged`, the day it was logged. Two versions of a model retrained every night ask for the
same packages on different days, so each would get its own env, although the package index gives both the
very same set. Before a registry run builds anything, each env it would have to build is resolved with
uv (`uv pip compile`, with the build's own interpreter, indexes, constraints and cutoff: what the install
would pick). Envs whose resolutions are identical, and that differ in nothing else, become one: the first
one's key (`EnvSpec.shared_key`), one build, one runner. An env whose exact pins already rule out every other
(building/distinct_pins.py) is not resolved before the builds: it shares with none whatever uv says; its
resolution is recorded in the background while the run builds (registry/run.py waits for it at the end).
The finding is kept in the store so that the next run, a single `envforge verify` of either version and
`envforge cache list` see it without resolving again:

    shared/<key[:24]>.json         this spec's env is the env of `key` (and why: the resolution's digest)
    resolutions/<digest[:24]>.json  the env that holds this resolution

Only where the resolution is the whole env: the uv backend (virtualenv's pip may resolve otherwise), no
code_path wheels or other files of the model (they are installed after, with their own dependencies), a
cutoff the index honoured. Everything else keeps its own env.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envforge.building import distinct_pins
from envforge.errors import EnvforgeError
from envforge.store.bookkeeping import read_record, write_record
from envforge.store.layout import KEY_CHARS, home

if TYPE_CHECKING:
    from envforge.backends.build_options import BuildOptions
    from envforge.spec import EnvSpec

BACKEND = "uv"


def _shared_dir() -> Path:
    return home() / "shared"


def _resolutions_dir() -> Path:
    return home() / "resolutions"


def _read(path: Path) -> dict[str, Any] | None:
    data = read_record(path)
    return data if isinstance(data, dict) else None


def _write(path: Path, data: dict[str, Any]) -> None:
    """Atomically, best effort: bookkeeping never fails a run (without it each spec simply keeps its own env)."""
    write_record(path, data)


def adopt(spec: EnvSpec) -> EnvSpec:
    """The spec with the shared env a registry run found for it, if any (one small file read)."""
    if spec.shared_key or spec.backend != BACKEND:
        return spec
    found = _read(_shared_dir() / f"{spec.key[:KEY_CHARS]}.json")
    if not found or found.get("own_key") != spec.key or not isinstance(found.get("key"), str):
        return spec
    return replace(spec, shared_key=found["key"])


def sharing() -> dict[str, list[str]]:
    """{env key: the keys of the specs that use its env instead of their own}, for `cache list`."""
    found: dict[str, list[str]] = {}
    for path in sorted(_shared_dir().glob("*.json")) if _shared_dir().is_dir() else []:
        data = _read(path)
        if data and isinstance(data.get("key"), str) and isinstance(data.get("own_key"), str):
            found.setdefault(data["key"], []).append(data["own_key"])
    return found


def shareable(spec: EnvSpec) -> bool:
    return spec.backend == BACKEND and not spec.shared_key and not spec.code_wheels and not spec.file_hashes


def resolution_digest(spec: EnvSpec, interpreter: str, pins: Sequence[str]) -> str:
    """What makes two envs the same: the spec without what it asked for (requirements, constraints, build
    dependencies, the cutoff), the interpreter, and the packages the ask resolved to."""
    rest = replace(spec, requirements=(), constraints=(), build_dependencies=(), resolved_as_of=None)
    payload = {"rest": rest.key, "interpreter": interpreter, "pins": sorted(p.lower() for p in pins)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def resolve(spec: EnvSpec, model_dir: Path, options: BuildOptions) -> str | None:
    """The digest of the packages uv would install for this spec; None where that is not the whole env or
    uv could not tell (the build then reports why, as it always did)."""
    from envforge.backends.cutoff import Cutoff, compile_pins
    from envforge.backends.venv import choose_interpreter, requirement_files

    if not shareable(spec) or not (spec.requirements or spec.build_dependencies):
        return None
    try:
        choice = choose_interpreter(spec, options, lambda text: None)
        cutoff = Cutoff(spec, options)
        with requirement_files(spec, model_dir) as (reqs, constraints):
            pins = compile_pins(cutoff, spec, model_dir, choice.interpreter.path, reqs, constraints, options,
                                "Resolving the requirements with uv", "")
    except (EnvforgeError, OSError):
        return None
    if cutoff.notes or cutoff.moment != spec.resolved_as_of or not pins:  # the index did not honour the cutoff
        return None
    return resolution_digest(spec, choice.interpreter.version, pins)


def merge(keys: Sequence[str], loaded: dict[str, Any], built: Callable[[str], bool], options: BuildOptions) -> dict[str, str]:
    """{key: the key whose env it uses} for the keys (one per group of a run, `loaded[key]` one of its
    LoadedModels) whose env is not built yet and resolves like another's: an env this run builds first, or one
    already in the store. Resolves up to four at once."""
    from concurrent.futures import ThreadPoolExecutor

    todo = [k for k in keys if not built(k) and shareable(loaded[k].spec)]
    if not todo:
        return {}
    alone = distinct_pins.distinct(todo, {k: loaded[k].spec.requirements for k in todo}, _holders(built))
    if alone:  # they share with none (building/distinct_pins.py): recorded for the next run while this one builds
        _record_later([k for k in todo if k in alone], loaded, built, options)
        todo = [k for k in todo if k not in alone]
    if not todo:
        return {}
    with ThreadPoolExecutor(max_workers=min(4, len(todo))) as pool:
        digests = list(pool.map(lambda k: resolve(loaded[k].spec, loaded[k].model.path, options), todo))
    chosen: dict[str, str] = {}
    first: dict[str, str] = {}
    for key, digest in zip(todo, digests, strict=True):
        if digest is None:
            continue
        known = _read(_resolutions_dir() / f"{digest[:KEY_CHARS]}.json")
        holder = known.get("key") if known and known.get("digest") == digest and built(str(known.get("key"))) else None
        target = holder if isinstance(holder, str) and holder != key else first.setdefault(digest, key)
        if target == key:
            _write(_resolutions_dir() / f"{digest[:KEY_CHARS]}.json", {"digest": digest, "key": key})
            continue
        chosen[key] = target
        _write(_shared_dir() / f"{key[:KEY_CHARS]}.json", {"own_key": key, "key": target, "digest": digest})
    return chosen


def _holders(built: Callable[[str], bool]) -> list[list[str]] | None:
    """The requirement lines of every built env a stored resolution names (the envs a new one could share); None when
    one of them cannot be read (then every env is resolved, as before)."""
    from envforge.store.layout import env_dir
    from envforge.store.marker import read_marker

    folder, found = _resolutions_dir(), []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        record = _read(path)
        key = record.get("key") if record else None
        if not isinstance(key, str):
            return None
        if not built(key):
            continue  # not a holder: merge only shares with a built env
        spec = (read_marker(env_dir(BACKEND, key)) or {}).get("spec")
        lines = spec.get("requirements") if isinstance(spec, dict) else None
        if not isinstance(lines, list):
            return None
        found.append([str(line) for line in lines])
    return found


_LATER: list[threading.Thread] = []


def _record_later(keys: list[str], loaded: dict[str, Any], built: Callable[[str], bool], options: BuildOptions) -> None:
    """Resolve `keys` one after another in a background thread and record each resolution as merge would (each is its
    own: no other env can hold it), so that a later run's env that resolves alike shares it. settle() waits for it."""

    def record() -> None:
        for key in keys:
            try:
                digest = resolve(loaded[key].spec, loaded[key].model.path, options)
            except Exception:  # noqa: BLE001 - bookkeeping never fails a run
                continue
            if digest is None:
                continue
            path = _resolutions_dir() / f"{digest[:KEY_CHARS]}.json"
            known = _read(path)
            if not (known and known.get("digest") == digest and isinstance(known.get("key"), str) and built(known["key"])):
                _write(path, {"digest": digest, "key": key})

    thread = threading.Thread(target=record, name="envforge-record-resolutions", daemon=True)
    _LATER.append(thread)
    thread.start()


def settle() -> None:
    """Wait for the resolutions merge left to record in the background (the end of a registry run)."""
    while _LATER:
        _LATER.pop().join()


__all__ = ["adopt", "merge", "resolution_digest", "resolve", "settle", "shareable", "sharing"]
