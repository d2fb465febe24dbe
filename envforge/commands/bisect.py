"""`envforge bisect`: which release broke the model between the day it was logged and today.

The model is rebuilt as of two moments (default: `logged` and `latest`) and the same inputs run in
both. When the two behave differently (one fails to load, raises, or predicts differently), the
first day on which the outcome changes is found by bisection over days (as-of resolution: about
log2(days) builds; a day whose resolved set equals a known one's is decided without a build), then,
among the packages whose version changed on that day, the one whose upgrade alone reproduces it:
the good day's set with that one package at the bad day's version. Every step is a
bisect_probe.probe, i.e. the same chain as verify, cached by the same env keys.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from envforge.backends.base import BuildOptions
from envforge.backends.run_options import RunOptions
from envforge.commands.bisect_bounds import NEITHER, NO_BOUND, empty_range, unusable_bound
from envforge.commands.bisect_probe import BUILD, OK, Probe, inputs_for, probe, resolved_set, same
from envforge.compare import DEFAULT_ATOL, DEFAULT_RTOL
from envforge.errors import EXIT_ENV, EXIT_FAILED, EXIT_PASSED, UsageError
from envforge.modeldir.download_options import DownloadOptions
from envforge.spec.asof import LATEST, LOGGED, format_moment, parse_moment, resolve_as_of

AGREE, CULPRIT, RANGE, NEVER = "agree", "culprit", "range", "never-worked"
LOCK = "lock"  # --from lock: the lock stored with the model (`record --lock`)
SINGLES = 8  # upgrades tried alone (the major ones first) before reverting them in halves


@dataclass(frozen=True)
class BisectOptions:
    start: str = LOGGED                 # --from: a --resolve value, or "lock"
    end: str = LATEST                   # --to
    backend: str = "uv"
    tracking_uri: str | None = None
    inputs: tuple[str, ...] = ()
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    max_steps: int = 30                 # builds after the two ends
    predict_timeout: float = 900.0
    build: BuildOptions = field(default_factory=BuildOptions)
    run: RunOptions = field(default_factory=RunOptions)
    download: DownloadOptions = field(default_factory=DownloadOptions)


@dataclass
class BisectResult:
    uri: str
    verdict: str = ""
    message: str = ""
    start: Probe | None = None
    end: Probe | None = None
    culprit: dict[str, Any] | None = None
    changed: dict[str, list[str | None]] = field(default_factory=dict)  # name -> [good version, bad version]
    good_day: str | None = None
    bad_day: str | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        if self.verdict == AGREE:
            return EXIT_PASSED
        if self.verdict == NO_BOUND:  # the env, not the model (bisect_bounds.py)
            return EXIT_ENV
        return EXIT_ENV if self.verdict == NEVER and self.start and self.start.kind == BUILD and self.end and self.end.kind == BUILD else EXIT_FAILED

    def to_dict(self) -> dict[str, Any]:
        return {"uri": self.uri, "verdict": self.verdict, "message": self.message, "exit_code": self.exit_code,
                "from": self.start.to_dict() if self.start else None, "to": self.end.to_dict() if self.end else None,
                "good_day": self.good_day, "bad_day": self.bad_day, "culprit": self.culprit, "changed": self.changed,
                "steps": self.steps, "builds": sum(1 for s in self.steps if s.get("built")), "seconds": round(self.seconds, 1)}


class _Search:
    def __init__(self, uri: str, opts: BisectOptions, say: Any) -> None:
        self.uri, self.opts, self.say = uri, opts, say
        self.result = BisectResult(uri)
        self.runs: list[dict[str, Any]] = []
        self.builds = 0

    def probe(self, when: str, label: str, pins: tuple[str, ...] = (), stored_lock: bool = False) -> Probe:
        o = self.opts
        self.say(f"step {len(self.result.steps) + 1}: building {label}")
        found = probe(self.uri, when, label=label, backend=o.backend, tracking_uri=o.tracking_uri, build=o.build,
                      limits=o.run, download=o.download, runs=self.runs, pins=pins, predict_timeout=o.predict_timeout, log=None, stored_lock=stored_lock)
        self.builds += found.kind != BUILD  # the budget is for builds: a set the resolver refuses costs a second
        return found

    def log(self, found: Probe, verdict: str, *, built: bool = True) -> None:
        step = {**found.to_dict(), "verdict": verdict, "built": built}
        self.result.steps.append(step)
        how = "" if built else " (same package set as a known step: not built)"
        self.say(f"step {len(self.result.steps)}: {found.label}: {found.describe()} -> {verdict}{how} [{found.seconds:.0f} s]")

    def resolved(self, when: str) -> dict[str, str] | None:
        o = self.opts
        return resolved_set(self.uri, when, backend=o.backend, tracking_uri=o.tracking_uri, build=o.build, download=o.download)


def bisect(uri: str, opts: BisectOptions, say: Any = None) -> BisectResult:
    """Run the search; never raises for a model that fails (that is the result), UsageError for bad dates."""
    search = _Search(uri, opts, say or (lambda text: None))
    started = time.monotonic()
    _run(search)
    search.result.seconds = time.monotonic() - started
    return search.result


def _moment(option: str, mlmodel: Any) -> datetime:
    as_of, _ = resolve_as_of(option, getattr(mlmodel, "utc_time_created", None))
    return parse_moment(as_of.moment) if as_of.moment else datetime.now(timezone.utc).replace(microsecond=0)


def _run(s: _Search) -> None:
    from envforge.pipeline import load_model

    o, r = s.opts, s.result
    from_lock = o.start == LOCK
    loaded = load_model(s.uri, backend=o.backend, tracking_uri=o.tracking_uri, stored_lock=from_lock, build=o.build,
                        download=o.download)
    s.runs = inputs_for(loaded.model.path, loaded.mlmodel, o.inputs)
    if from_lock and loaded.lock is None:
        raise UsageError("bisect --from lock: no lock is stored with this model, so there is no locked set to start from.",
                         "Store one with `envforge record URI --lock`, or bisect --from logged.")
    lo = hi = _moment(o.end, loaded.mlmodel)
    if not from_lock:
        lo = _moment(o.start, loaded.mlmodel)
    if lo >= hi and not from_lock:
        raise empty_range(s.uri, o.start, o.end, format_moment(lo), format_moment(hi), getattr(loaded.mlmodel, "utc_time_created", None))
    if from_lock:
        assert loaded.lock is not None
        r.start = s.probe(LATEST, f"the lock stored with the model ({loaded.lock.source})", stored_lock=True)
    else:
        r.start = s.probe(o.start, f"{o.start} ({format_moment(lo)})")
    s.log(r.start, "from")
    r.end = s.probe(o.end, f"{o.end} ({format_moment(hi)})" if o.end != LATEST else "latest")
    s.log(r.end, "to")
    if unusable_bound(r, o.start, o.end):  # a date that cannot be built is neither good nor bad: no bound
        return
    if r.start.kind != OK and r.end.kind != OK:
        r.verdict = NEVER
        r.message = (f"the model never worked in this range: as of {o.start} it {r.start.describe()}; "
                     f"as of {o.end} it {r.end.describe()}.")
        return
    agree, how = same(r.start, r.end, o.rtol, o.atol)
    if agree:
        r.verdict = AGREE
        r.message = f"as of {o.start} and as of {o.end} the model behaves the same ({r.start.describe()}); nothing to bisect."
        return
    if from_lock:  # no date to bisect: straight to the packages that differ between the lock and --to
        assert loaded.lock is not None
        good_set, bad_set = _locked_set(loaded.lock.requirements), s.resolved(o.end) or r.end.installed
        r.good_day, r.bad_day, bad_day, bad = "the lock", hi.strftime("%Y-%m-%d"), hi, r.end
        span = f"changed between the lock and {o.end}"
    else:
        good_day, bad_day, maybe_good, maybe_bad, bad = _days(s, lo, hi)
        r.good_day, r.bad_day = good_day.strftime("%Y-%m-%d"), bad_day.strftime("%Y-%m-%d")
        good_set = maybe_good or r.start.installed
        bad_set = maybe_bad or bad.installed or r.end.installed
        span = f"first resolved as of {r.bad_day}" if _one_day(r) else f"first resolved on a day between {r.good_day} and {r.bad_day}"
    r.changed = {n: [good_set.get(n), bad_set.get(n)] for n in sorted(set(good_set) | set(bad_set)) if good_set.get(n) != bad_set.get(n)}
    _isolate(s, good_set, bad_set, bad_day, bad, span)


def _locked_set(requirements: tuple[str, ...]) -> dict[str, str]:
    """name -> version of a lock's `name==version --hash=...` lines."""
    from packaging.utils import canonicalize_name

    found = {}
    for line in requirements:
        pin = line.split()[0] if line.split() else ""
        if "==" in pin:
            name, version = pin.split("==", 1)
            found[str(canonicalize_name(name.split("[")[0]))] = version.split(";")[0]
    return found


def _days(s: _Search, lo: datetime, hi: datetime) -> tuple[datetime, datetime, dict[str, str] | None, dict[str, str] | None, Probe]:
    """Bisect over whole days: the last good day and the first bad one (each at its end, 23:59:59 UTC)."""
    o, r = s.opts, s.result
    assert r.start is not None and r.end is not None
    good, bad = _day_end(lo), min(_day_end(hi), hi) if hi.date() > lo.date() else hi
    good_set, bad_set = s.resolved(format_moment(lo)), s.resolved(o.end if o.end == LATEST else format_moment(hi))
    bad_probe = r.end
    while (bad.date() - good.date()).days > 1 and s.builds - 2 < o.max_steps:
        mid = good + timedelta(days=(bad.date() - good.date()).days // 2)
        when = format_moment(mid)
        mid_set = s.resolved(when)
        if mid_set is not None and mid_set == good_set:
            s.log(replace(r.start, label=mid.strftime("%Y-%m-%d"), moment=when, seconds=0.0), "good", built=False)
            good = mid
            continue
        if mid_set is not None and mid_set == bad_set:
            s.log(replace(bad_probe, label=mid.strftime("%Y-%m-%d"), moment=when, seconds=0.0), "bad", built=False)
            bad = mid
            continue
        found = s.probe(when, mid.strftime("%Y-%m-%d"))
        if found.kind == BUILD:  # neither good nor bad: the range known so far is the answer (bisect_bounds.py)
            s.log(found, NEITHER)
            break
        ok, _ = same(r.start, found, o.rtol, o.atol)
        s.log(found, "good" if ok else "bad")
        if ok:
            good, good_set = mid, mid_set
        else:
            bad, bad_set, bad_probe = mid, mid_set, found
    return good, bad, good_set, bad_set, bad_probe


def _day_end(moment: datetime) -> datetime:
    return moment.replace(hour=23, minute=59, second=59, microsecond=0)


def _isolate(s: _Search, good_set: dict[str, str], bad_set: dict[str, str], bad_day: datetime, bad: Probe, span: str) -> None:
    """The smallest set of upgrades that reproduces the bad outcome: first each changed package alone
    (the good day's set with that one at the bad day's version); when none does (an upgrade that needs
    others with it: the resolver refuses it alone), revert upgrades from the bad day's set in halves, then
    one at a time, keeping those without which it is good again or cannot be built (_reduce)."""
    o, r = s.opts, s.result
    # upgrades (in both sets) first, major ones first; then packages the bad day added; removals need no test
    upgraded = sorted((n for n, (a, b) in r.changed.items() if a and b), key=lambda n: (not _major_change(*r.changed[n]), n))
    candidates = upgraded + sorted(n for n, (a, b) in r.changed.items() if b and not a)
    for name in upgraded[:SINGLES]:
        if s.builds - 2 >= o.max_steps:
            break
        found, verdict = _try(s, good_set, bad_set, bad_day, {name})
        if verdict == "bad":
            _name_culprit(r, [name], [], found, span)
            return
    kept, cause = _reduce(s, good_set, bad_set, bad_day, candidates)
    if cause:
        # what else it needs: the kept upgrades and additions (removals follow from them)
        _name_culprit(r, cause, sorted(n for n in kept if n not in cause), bad, span)
        return
    listed = [f"{n} {a or '(none)'} → {b or '(none)'}" for n, (a, b) in r.changed.items() if a and b] or ["no package version"]
    others = sum(1 for a, b in r.changed.values() if not (a and b))
    names = (", ".join(listed[:15]) + (f" and {len(listed) - 15} more upgrades" if len(listed) > 15 else "")
             + (f"; {others} package(s) added or removed (all in --json)" if others else ""))
    r.verdict = RANGE
    budget = " (the --max-steps budget ran out: raise it to go on)" if s.builds - 2 >= o.max_steps else ""
    r.message = (f"the model {bad.describe()} from {r.bad_day} on (it worked as of {r.good_day}); envforge could not "
                 f"single out the upgrade that causes it{budget}. Changed ({span}): {names}.")


def _reduce(s: _Search, good_set: dict[str, str], bad_set: dict[str, str], bad_day: datetime,
            candidates: list[str]) -> tuple[list[str], list[str]]:
    """Revert upgrades in halves, then quarters, ... down to one at a time, dropping every group without
    which the model still breaks (ddmin). Returns (the upgrades it still needs, those whose revert alone
    makes it work again: the cause)."""
    r, o = s.result, s.opts
    removals = {n for n, (a, b) in r.changed.items() if not b}  # they follow from the upgrades
    kept, cause = list(reversed(candidates)), []  # the unlikely ones first: reverting them keeps it broken
    chunk = max(1, len(kept) // 2)
    while kept and s.builds - 2 < o.max_steps:
        i = 0
        while i < len(kept) and s.builds - 2 < o.max_steps:
            group = kept[i:i + chunk]
            what = (f"{group[0]} back at {r.changed[group[0]][0] or '(absent)'}" if len(group) == 1
                    else f"{len(group)} upgrades back ({', '.join(group[:3])}{', …' if len(group) > 3 else ''})")
            _, verdict = _try(s, good_set, bad_set, bad_day, (set(kept) - set(group)) | removals, f"{r.bad_day} set with {what}")
            if verdict == "bad":
                kept = kept[:i] + kept[i + chunk:]
                continue
            if chunk == 1 and verdict == "good":
                cause.append(group[0])
            i += chunk
        if chunk == 1:
            break
        chunk = max(1, chunk // 2)
    return kept, cause


def _try(s: _Search, good_set: dict[str, str], bad_set: dict[str, str], bad_day: datetime, upgraded: set[str],
         label: str = "") -> tuple[Probe, str]:
    """Build the good day's set with `upgraded` at the bad day's versions (resolved as of the bad day)."""
    r = s.result
    assert r.start is not None
    pins = [f"{n}=={v}" for n, v in sorted(good_set.items()) if n not in upgraded]
    pins += [f"{n}=={bad_set[n]}" for n in sorted(upgraded) if bad_set.get(n)]
    label = label or f"{r.good_day} set + " + ", ".join(f"{n}=={bad_set.get(n) or '(none)'}" for n in sorted(upgraded))
    found = s.probe(format_moment(bad_day), label, tuple(pins))
    if found.kind == BUILD:  # the resolver refuses that combination: inconclusive
        s.log(found, "inconclusive")
        return found, "inconclusive"
    ok, _ = same(r.start, found, s.opts.rtol, s.opts.atol)
    s.log(found, "good" if ok else "bad")
    return found, "good" if ok else "bad"


def _name_culprit(r: BisectResult, cause: list[str], needed: list[str], found: Probe, when: str) -> None:
    how = found.describe() if found.kind != OK else "predicts differently"
    main = cause[0]
    old, new = r.changed[main]
    pin = _pin(main, old, new)
    r.verdict = CULPRIT
    r.culprit = {"package": main, "from": old, "to": new, "when": when, "effect": how, "pin": pin,
                 "with": [{"package": n, "from": r.changed[n][0], "to": r.changed[n][1]} for n in [*cause[1:], *needed]]}
    where = "python_env.yaml's build_dependencies" if main in ("setuptools", "pip", "wheel") else "requirements.txt"
    also = [f"{n} {r.changed[n][0] or '(absent)'} → {r.changed[n][1] or '(removed)'}" for n in [*cause[1:], *needed]]
    together = f" (together with {', '.join(also)}, which came with it)" if also else ""
    r.message = (f"{main} {old or '(absent)'} → {new or '(removed)'} ({when}){together} makes the model "
                 f"{_effect(how)}; pin `{pin}` in {where}")


def _effect(how: str) -> str:
    for prefix, verb in (("fails to load", "fail to load"), ("raises on its input", "raise on its input"),
                         ("cannot be built", "fail to build"), ("predicts differently", "predict differently")):
        if how.startswith(prefix):
            return verb + how[len(prefix):]
    return how


def _pin(name: str, old: str | None, new: str | None) -> str:
    from packaging.version import InvalidVersion, Version

    try:
        a, b = Version(old or "0").release, Version(new or "0").release
    except InvalidVersion:
        return f"{name}=={old}" if old else name
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return f"{name}<{'.'.join(str(v) for v in b[: i + 1])}"
    return f"{name}=={old}" if old else f"{name}<{new}"


def _major_change(old: str | None, new: str | None) -> bool:
    return (old or "").split(".")[0] != (new or "").split(".")[0]


def _one_day(r: BisectResult) -> bool:
    return bool(r.good_day and r.bad_day) and (datetime.strptime(r.bad_day, "%Y-%m-%d") - datetime.strptime(r.good_day, "%Y-%m-%d")).days <= 1
