"""Group the selected model versions by EnvSpec.key: each distinct environment is built once and
all its models run in one runner process."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

from envforge.backends.base import BuildOptions
from envforge.backends.run_options import RunOptions
from envforge.compare import DEFAULT_ATOL, DEFAULT_RTOL
from envforge.errors import EnvforgeError
from envforge.modeldir.download_options import DownloadOptions
from envforge.registry.select import Target
from envforge.result import Step, VerifyResult

if TYPE_CHECKING:
    from envforge.pipeline import Judging


@dataclass(frozen=True)
class RegistryOptions:
    """What every group task needs; plain data, so that it pickles to a Dask worker."""

    tracking_uri: str
    backend: str = "uv"
    model_timeout: float = 600.0
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    require_expected: bool = False
    refresh: bool = False
    fail_on: tuple[str, ...] = ()  # --fail-on drift,warnings (report/gate.py)
    record_missing: bool = False  # a version without expectations gets a baseline recorded in its env (registry/missing_baselines.py)
    build: BuildOptions = field(default_factory=BuildOptions)
    run: RunOptions = field(default_factory=RunOptions)
    download: DownloadOptions = field(default_factory=DownloadOptions)

    @property
    def judging(self) -> Judging:
        from envforge.pipeline import Judging

        return Judging(rtol=self.rtol, atol=self.atol, require_expected=self.require_expected)


@dataclass(frozen=True)
class Group:
    """Model versions that share one environment."""

    key: str
    python: str | None
    requirements: tuple[str, ...]
    targets: tuple[Target, ...]


@dataclass
class Plan:
    groups: list[Group]
    unplanned: list[tuple[Target, VerifyResult]]  # could not be resolved or parsed: already an error result
    seconds: float = 0.0  # resolving (downloading) every target
    shared: dict[str, str] = field(default_factory=dict)  # {key: the key whose env it uses} (building/same_resolution.py)

    @property
    def targets(self) -> list[Target]:
        return [t for g in self.groups for t in g.targets] + [t for t, _ in self.unplanned]


T = TypeVar("T")
R = TypeVar("R")
DOWNLOADS_AT_ONCE = 8  # MLflow's artifact downloads are network-bound; the host process loads no model


def at_once(resolve: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """resolve(item) for every item, up to DOWNLOADS_AT_ONCE at a time, in the items' order."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, min(DOWNLOADS_AT_ONCE, len(items)))) as pool:
        return list(pool.map(resolve, items))


def make_plan(targets: list[Target], options: RegistryOptions, log: object = None) -> Plan:
    """Resolve each target (cached downloads, up to DOWNLOADS_AT_ONCE at a time: MLflow's
    process-wide tracking settings are shared by calls to the same server, see
    modeldir/resolve.tracking_scope) and group the targets by their EnvSpec's key, in the
    selection's order."""
    import time

    start = time.perf_counter()
    by_key: dict[str, list[Target]] = {}
    specs: dict[str, Any] = {}  # one LoadedModel per key
    unplanned: list[tuple[Target, VerifyResult]] = []
    resolved = at_once(lambda t: _resolve(t, options, log), targets)
    for target, outcome in zip(targets, resolved, strict=True):
        if isinstance(outcome, VerifyResult):
            unplanned.append((target, outcome))
            continue
        if not target.name and outcome.model.name and outcome.model.version:
            target = replace(target, name=outcome.model.name, version=outcome.model.version)
        by_key.setdefault(outcome.spec.key, []).append(target)
        specs.setdefault(outcome.spec.key, outcome)
    same = _same_resolutions(by_key, specs, options)
    for key, shared in same.items():  # one env where resolutions are identical
        by_key.setdefault(shared, []).extend(by_key.pop(key))
        specs.setdefault(shared, specs[key])
    groups = [Group(key=k, python=specs[k].spec.python, requirements=specs[k].spec.requirements, targets=tuple(ts))
              for k, ts in by_key.items()]
    return Plan(groups=groups, unplanned=unplanned, seconds=time.perf_counter() - start, shared=same)


def _same_resolutions(by_key: dict[str, list[Target]], loaded: dict[str, Any], options: RegistryOptions) -> dict[str, str]:
    """{key: the key whose env it uses} (building/same_resolution.py), for the envs this run would build."""
    from envforge.building import same_resolution
    from envforge.store.layout import env_dir
    from envforge.store.marker import read_marker

    def built(key: str) -> bool:
        state = read_marker(env_dir(options.backend, key))
        return bool(state) and state.get("key") == key

    return same_resolution.merge(list(by_key), loaded, built, options.build)


def _resolve(target: Target, options: RegistryOptions, log: object) -> Any:
    """The loaded model, or the error result of a target that cannot be planned."""
    from envforge.pipeline import load_model

    if callable(log):
        log(f"resolving {target.label}")
    try:
        return load_model(target.uri, backend=options.backend, tracking_uri=options.tracking_uri,
                          refresh=options.refresh, build=options.build, download=options.download)
    except EnvforgeError as exc:
        result = VerifyResult(uri=target.uri, backend=options.backend)
        result.steps.append(Step("resolve", 0.0))
        return result.error_from(exc)


def describe(plan: Plan) -> list[str]:
    """The plan as text lines, for --dry-run."""
    lines = [f"{len(plan.targets)} model version(s), {len(plan.groups)} environment(s) to build or reuse"]
    for group in plan.groups:
        reqs = ", ".join(group.requirements[:6]) + (", ..." if len(group.requirements) > 6 else "")
        lines.append(f"env {group.key[:12]} (python {group.python or '?'}; {reqs})")
        lines += [f"  env {k[:12]} resolves to the same packages as env {group.key[:12]}: one env for both"
                  for k, shared in plan.shared.items() if shared == group.key]
        lines += [f"  - {t.label}" for t in group.targets]
    for target, result in plan.unplanned:
        lines.append(f"cannot run {target.label}: {result.reason}")
    return lines
