"""Which envs of a registry run can share a resolution with no other env, known from their exact pins alone.

same_resolution.merge resolves (`uv pip compile`, seconds each) every env a registry run would build, to find the
envs whose resolutions are identical, before any build starts. But every resolution holds the requirements' own
exact pins: an env asking for `threadpoolctl==3.5.0` cannot resolve like one asking for `threadpoolctl==3.6.0`. An
env whose exact pins differ so from those of every other env the run would build, and from those of every built env
a stored resolution names (a possible holder), shares with none of them: whatever uv would answer, the merge would
keep it as its own. It needs no resolution before the run starts (its resolution is still recorded, off the critical
path, for the next run: same_resolution.merge).

Only what is certain counts as a pin: a requirement line `name==version` (extras allowed) without a marker, a URL or a
wildcard; two pins differ when their public versions do (PEP 440: `==1.0` equals `1.0.0`, and matches `1.0+cpu`).
A line that does not parse, or a holder whose spec cannot be read, proves nothing: that env is resolved as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

Pins = dict[str, object]  # canonical name -> packaging Version (its public part)


def exact_pins(requirements: Iterable[str]) -> Pins:
    """{canonical name: public version} for the lines that pin one exact version whatever the platform."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version

    pins: Pins = {}
    unsure: set[str] = set()
    for line in requirements:
        try:
            req = Requirement(line.split(" #", 1)[0].strip())
        except InvalidRequirement:
            continue
        specifiers = list(req.specifier)
        if req.marker is not None or req.url or len(specifiers) != 1 or specifiers[0].operator != "==":
            continue
        if "*" in specifiers[0].version:
            continue
        try:
            version = Version(Version(specifiers[0].version).public)
        except InvalidVersion:
            continue
        name = canonicalize_name(req.name)
        if pins.setdefault(name, version) != version:
            unsure.add(name)  # the same name pinned twice otherwise: uv reports it; prove nothing with it
    return {n: v for n, v in pins.items() if n not in unsure}


def differ(a: Pins, b: Pins) -> bool:
    """True when no resolution can satisfy both: one package pinned to two versions."""
    return any(name in b and b[name] != version for name, version in a.items())


def distinct(keys: Sequence[str], requirements: Mapping[str, Sequence[str]], holders: Sequence[Sequence[str]] | None) -> set[str]:
    """The keys (requirements[key]: its spec's lines) whose pins differ from every other key's and from every
    possible holder's (each a built env's requirement lines); holders None: the store's holders are unknown, none
    is distinct."""
    if holders is None:
        return set()
    pins = {k: exact_pins(requirements[k]) for k in keys}
    held = [exact_pins(lines) for lines in holders]
    return {k for k in keys if pins[k] and all(differ(pins[k], pins[j]) for j in keys if j != k)
            and all(differ(pins[k], h) for h in held)}
