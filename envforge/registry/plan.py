"""Group the selected model versions by EnvSpec.key: each distinct environment is built once and
all its models run in one runner process."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from envforge.backends.base import BuildOptions
from envforge.compare import DEFAULT_ATOL, DEFAULT_RTOL
from envforge.errors import EnvforgeError
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
    record_missing: bool = False  # a version without expectations gets a baseline recorded in its env (registry/baselines.py)
    build: BuildOptions = field(default_factory=BuildOptions)

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

    @property
    def targets(self) -> list[Target]:
        return [t for g in self.groups for t in g.targets] + [t for t, _ in self.unplanned]


def make_plan(targets: list[Target], options: RegistryOptions, log: object = None) -> Plan:
    """Resolve each target (cached downloads) and read its EnvSpec; sequential, because MLflow's
    download goes through process-wide tracking settings."""
    from envforge.pipeline import load_model

    by_key: dict[str, list[Target]] = {}
    specs: dict[str, tuple[str | None, tuple[str, ...]]] = {}
    unplanned: list[tuple[Target, VerifyResult]] = []
    for target in targets:
        result = VerifyResult(uri=target.uri, backend=options.backend)
        step = Step("resolve", 0.0)
        try:
            if callable(log):
                log(f"resolving {target.label}")
            loaded = load_model(target.uri, backend=options.backend, tracking_uri=options.tracking_uri,
                                refresh=options.refresh, build=options.build)
        except EnvforgeError as exc:
            result.steps.append(step)
            unplanned.append((target, result.error_from(exc)))
            continue
        if not target.name and loaded.model.name and loaded.model.version:
            target = replace(target, name=loaded.model.name, version=loaded.model.version)
        by_key.setdefault(loaded.spec.key, []).append(target)
        specs[loaded.spec.key] = (loaded.spec.python, loaded.spec.requirements)
    groups = [Group(key=k, python=specs[k][0], requirements=specs[k][1], targets=tuple(ts)) for k, ts in by_key.items()]
    return Plan(groups=groups, unplanned=unplanned)


def describe(plan: Plan) -> list[str]:
    """The plan as text lines, for --dry-run."""
    lines = [f"{len(plan.targets)} model version(s), {len(plan.groups)} environment(s) to build or reuse"]
    for group in plan.groups:
        reqs = ", ".join(group.requirements[:6]) + (", ..." if len(group.requirements) > 6 else "")
        lines.append(f"env {group.key[:12]} (python {group.python or '?'}; {reqs})")
        lines += [f"  - {t.label}" for t in group.targets]
    for target, result in plan.unplanned:
        lines.append(f"cannot run {target.label}: {result.reason}")
    return lines
