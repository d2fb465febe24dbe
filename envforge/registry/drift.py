"""`verify-registry --resolve logged,latest`: every version verified under each resolution in one run, and a
verdict per version from the pair of outcomes.

Each resolution is planned and executed like a verify-registry run of its own (the envs differ by key, so
nothing is shared by mistake); `logged` runs first, so that `--record-missing` records its as-logged
baselines before `latest` is compared with them. The verdicts:

- "still works with today's packages": passes as logged and with today's index;
- "reproduces as logged": passes as logged; today's outcome says nothing more (it ran, nothing to compare);
- "drifted (see `envforge bisect URI`)": runs as logged, but with today's packages it fails, raises or differs;
- "never worked as logged": fails (or cannot be built) as logged;
- "unverified": it ran both ways, but there are no expectations to compare with (`--record-missing`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from envforge.errors import UsageError
from envforge.registry.plan import Plan, RegistryOptions, make_plan
from envforge.registry.run import RegistryRun
from envforge.registry.select import Target
from envforge.result import FAILED, INTERRUPTED, PASSED, UNVERIFIED, VerifyResult
from envforge.spec.asof import LATEST, LOGGED, check_option

STILL_WORKS, REPRODUCES, DRIFTED, NEVER, NO_BASELINE = (
    "still works with today's packages", "reproduces as logged", "drifted", "never worked as logged", "unverified")
BAD = {DRIFTED, NEVER}


def parse_resolutions(text: str | None) -> tuple[str, ...]:
    """`--resolve logged,latest` -> ("logged", "latest"); each value checked as --resolve checks it; logged first."""
    if text is None:
        return (None,)  # type: ignore[return-value]  # one run, envforge's default
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values or len(set(values)) != len(values):
        raise UsageError(f"--resolve {text!r}: name each resolution once, e.g. `--resolve logged,latest`.", "")
    for value in values:
        check_option(value)
    return tuple(sorted(values, key=lambda v: v != LOGGED))


@dataclass
class Pass:
    """One resolution's plan and run."""

    resolve: str | None
    options: RegistryOptions
    plan: Plan | None = None
    run: RegistryRun = field(default_factory=RegistryRun)

    @property
    def label(self) -> str:
        return self.resolve or LOGGED


def passes(options: RegistryOptions, resolutions: tuple[str | None, ...]) -> list[Pass]:
    """A Pass per resolution; --record-missing records in the first (the logged one when it is asked for)."""
    out = []
    for i, resolve in enumerate(resolutions):
        build = replace(options.build, resolve=resolve)
        out.append(Pass(resolve, replace(options, build=build, record_missing=options.record_missing and i == 0)))
    return out


def plan_all(targets: list[Target], steps: list[Pass]) -> None:
    for step in steps:
        step.plan = make_plan(targets, step.options)


def merged(steps: list[Pass]) -> RegistryRun:
    """All passes as one RegistryRun, for the writers every verify-registry run uses."""
    run = RegistryRun()
    for step in steps:
        run.results += step.run.results
        run.envs += [dict(env, resolve=step.label) for env in step.run.envs]
        run.interrupted = run.interrupted or step.run.interrupted
        run.seconds += step.run.seconds
        run.plan_seconds += step.plan.seconds if step.plan else 0.0
    return run


def _ran(result: VerifyResult) -> bool:
    """Loaded and predicted (passed, or unverified only for want of expectations)."""
    return result.status == PASSED or (result.status == UNVERIFIED and not result.model_error)


def verdict(logged: VerifyResult, latest: VerifyResult) -> str:
    if INTERRUPTED in (logged.status, latest.status):
        return INTERRUPTED  # Ctrl-C cut one pass short: no verdict on the model
    if not _ran(logged):
        return NEVER
    if not _ran(latest) or latest.status == FAILED:
        return DRIFTED
    if logged.status == PASSED and latest.status == PASSED:
        return STILL_WORKS
    return REPRODUCES if logged.status == PASSED else NO_BASELINE


def verdicts(steps: list[Pass]) -> list[dict[str, Any]]:
    """A verdict per version, from the logged pass and the latest one (else the first two passes)."""
    if len(steps) < 2:
        return []
    by_label = {s.label: s for s in steps}
    first = by_label.get(LOGGED, steps[0])
    second = by_label.get(LATEST) or next(s for s in steps if s is not first)
    after = {r.uri: r for _, r in second.run.results}
    out = []
    for target, before in first.run.results:
        now = after.get(target.uri)
        if now is None:
            continue
        said = verdict(before, now)
        text = f"{DRIFTED} (see `envforge bisect {target.uri}`)" if said == DRIFTED else said
        out.append({"uri": target.uri, "label": target.label, "verdict": said, "text": text,
                    "pair": [first.label, second.label], first.label: before.status, second.label: now.status,
                    "reasons": {first.label: before.reason, second.label: now.reason},
                    "bisect": f"envforge bisect {target.uri}" if said == DRIFTED else None})
    return out


def summary(steps: list[Pass], found: list[dict[str, Any]]) -> list[str]:
    lines = [f"as of {s.label}: {s.run.summary()}" for s in steps]
    if found:
        counts: dict[str, int] = {}
        for v in found:
            counts[v["verdict"]] = counts.get(v["verdict"], 0) + 1
        lines.append("verdicts: " + ", ".join(f"{n} {name}" for name, n in counts.items()))
    return lines


def recorded(run: RegistryRun) -> list[str]:
    """The versions that got a baseline in this run (--record-missing)."""
    return [t.label for t, r in run.results if (r.baseline or {}).get("recorded_now")]


__all__ = ["DRIFTED", "NEVER", "NO_BASELINE", "REPRODUCES", "STILL_WORKS", "Pass", "merged",
           "parse_resolutions", "passes", "plan_all", "recorded", "summary", "verdict", "verdicts"]
