"""`envforge diff`: the training env (recorded) vs the model's requirements vs the rebuilt env.

Per package: the version `envforge record` saw in the training env (its freeze in the
expectations), what the model's requirements ask for, and what the rebuilt env has (its state
marker's freeze). Packages that differ come first, then a verdict line.

A row differs when the rebuilt version is not the recorded one ("changed"), when a package
is requested but absent ("missing") or its version does not satisfy the request ("unsatisfied"),
or, with a recording, when the rebuilt env has a package the training env did not ("added").
Packages only the training env had ("training-only": notebooks, test tools, envforge itself)
are not needed by the model: they are counted, not shown unless asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from envforge.backends.base import Env
from envforge.modeldir.expectations import Expectations
from envforge.pipeline import LoadedModel
from envforge.spec.envlock import installed_packages

CHANGED, MISSING, UNSATISFIED, ADDED, SAME, TRAINING_ONLY = "changed", "missing", "unsatisfied", "added", "same", "training-only"
OK = "ok"  # without a recording: installed, and meets its requirement if it has one
_ORDER = {CHANGED: 0, UNSATISFIED: 1, MISSING: 2, ADDED: 3, SAME: 4, OK: 4, TRAINING_ONLY: 5}
DIFFERS = (CHANGED, UNSATISFIED, MISSING, ADDED)


@dataclass(frozen=True)
class Row:
    name: str
    recorded: str | None
    requested: str | None
    installed: str | None
    status: str

    @property
    def differs(self) -> bool:
        return self.status in DIFFERS

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "recorded": self.recorded, "requested": self.requested,
                "installed": self.installed, "status": self.status, "differs": self.differs}


@dataclass(frozen=True)
class EnvDiff:
    rows: tuple[Row, ...]
    recorded: bool
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for row in self.rows:
            counts[row.status] = counts.get(row.status, 0) + 1
        return {"recorded": self.recorded, "verdict": self.verdict, "counts": counts,
                "packages": [r.to_dict() for r in self.rows]}


def diff_env(loaded: LoadedModel, env: Env, expectations: Expectations | None) -> EnvDiff:
    recorded = _recorded(expectations)
    requested = requested_versions(loaded.requested.requirements + loaded.requested.code_wheels)
    installed = {p.name: p.version for p in installed_packages(env.installed)}
    rows = [_python_row(loaded, env, expectations)]
    for name in sorted(set(recorded) | set(requested) | set(installed)):
        rows.append(Row(name, recorded.get(name), requested.get(name), installed.get(name),
                        _status(recorded.get(name), requested.get(name), installed.get(name), expectations is not None)))
    rows.sort(key=lambda r: (r.name != "python", _ORDER[r.status], r.requested is None, r.name))  # the model's own first
    return EnvDiff(tuple(rows), expectations is not None, _verdict(rows, expectations is not None))


def requested_versions(lines: tuple[str, ...]) -> dict[str, str]:
    """Canonical name -> what is asked for ("<1.6", "==1.5.2", "any", "@ url", a local file)."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    out: dict[str, str] = {}
    for line in lines:
        if line.startswith("./"):
            stem = line.rsplit("/", 1)[-1]
            if stem.endswith(".whl"):
                out[str(canonicalize_name(stem.split("-")[0]))] = line
            continue
        try:
            req = Requirement(line.split(" --hash")[0])
        except InvalidRequirement:
            continue
        text = f"@ {req.url}" if req.url else (str(req.specifier) or "any")
        out[str(canonicalize_name(req.name))] = text + (f" ; {req.marker}" if req.marker else "")
    return out


def _recorded(expectations: Expectations | None) -> dict[str, str]:
    from packaging.utils import canonicalize_name

    if expectations is None:
        return {}
    return {str(canonicalize_name(str(p.get("name")))): str(p.get("version")) for p in expectations.freeze if p.get("name")}


def _python_row(loaded: LoadedModel, env: Env, expectations: Expectations | None) -> Row:
    recorded = expectations.python if expectations else None
    requested = loaded.requested.python
    if recorded and recorded != env.python_version:
        status = CHANGED
    elif requested and not _same_release(requested, env.python_version):
        status = UNSATISFIED
    else:
        status = SAME if expectations else OK
    return Row("python", recorded, requested, env.python_version, status)


def _same_release(requested: str, installed: str) -> bool:
    parts = requested.split(".")
    return installed.split(".")[: len(parts)] == parts


def _status(recorded: str | None, requested: str | None, installed: str | None, with_recording: bool) -> str:
    if requested is not None and installed is None:
        return MISSING
    if requested is not None and installed is not None and not _satisfies(installed, requested):
        return UNSATISFIED
    if recorded is not None and installed is None:
        return TRAINING_ONLY
    if recorded is not None and installed is not None and recorded != installed:
        return CHANGED
    if with_recording and recorded is None and installed is not None:
        return ADDED
    return SAME if with_recording else OK


def _satisfies(installed: str, requested: str) -> bool:
    """Whether a version satisfies a specifier; URLs, local files and markers are not judged."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    if requested == "any" or requested.startswith(("@", "./")) or " ; " in requested or installed.startswith("@"):
        return True
    try:
        return SpecifierSet(requested).contains(Version(installed), prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return True


def _verdict(rows: list[Row], with_recording: bool) -> str:
    changed = [r for r in rows if r.status == CHANGED]
    broken = [r for r in rows if r.status in (MISSING, UNSATISFIED)]
    added = [r for r in rows if r.status == ADDED]
    extra = sum(1 for r in rows if r.status == TRAINING_ONLY)
    parts = []
    if with_recording:
        if changed or added:
            listed = ", ".join(f"{r.name} {r.recorded} -> {r.installed}" for r in changed[:5])
            more = f" (+{len(changed) - 5} more)" if len(changed) > 5 else ""
            text = f"{_count(len(changed), 'package')} changed from the training environment" + (f": {listed}{more}" if changed else "")
            if added:
                text += f"; {_count(len(added), 'package')} not in the training environment ({', '.join(r.name for r in added[:5])})"
            parts.append(text)
        else:
            parts.append("every package of the rebuilt environment has the version recorded in the training environment")
    else:
        parts.append("no recording of the training environment (run `envforge record` in it to compare with it)")
    if broken:
        unmet = ", ".join(f"{r.name} {r.requested} ({r.installed or 'not installed'})" for r in broken[:5])
        parts.append(f"{_count(len(broken), 'requirement')} not met: {unmet}")
    else:
        parts.append("the rebuilt environment meets every requirement of the model")
    if extra:
        parts.append(f"{_count(extra, 'package')} only in the training environment, not needed by the model (--all lists them)")
    return "; ".join(parts)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
