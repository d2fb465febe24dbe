"""One canonical digest of an env's exact package set: the one `envforge lock` prints and writes in the lock's
header, and the one a `verify --attest` statement carries. Verify with `--lock FILE` and the attested lock
digest is the lock file's, so the image built from that file is exactly what passed.

The digest covers the packages only (comments, order, spacing, index options and the header do not count):
the sha256 of the compact JSON list of {"name", "version", "url", "hashes"} sorted by name, names
canonical (PEP 503), hashes sorted. A set read from a built env (no lock) has no hashes: its digest is
another one than its lock's, and the statement says where its set came from.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from envforge.spec.envlock import installed_packages
from envforge.spec.lines import logical_lines


def from_requirements(requirements: tuple[str, ...] | list[str]) -> list[dict[str, Any]]:
    """Packages of lock lines (`name==version --hash=sha256:...`, as spec/envlock.py keeps them)."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    out = []
    for line in requirements:
        tokens = line.split()
        cut = next((i for i, t in enumerate(tokens) if t.startswith("--")), len(tokens))
        hashes = sorted(t[len("--hash="):] for t in tokens[cut:] if t.startswith("--hash="))
        try:
            req = Requirement(" ".join(tokens[:cut]))
        except InvalidRequirement:
            continue
        version = next((s.version for s in req.specifier if s.operator in ("==", "===")), None)
        out.append({"name": str(canonicalize_name(req.name)), "version": version, "url": req.url, "hashes": hashes})
    return sorted(out, key=lambda p: (p["name"], p["version"] or "", p["url"] or ""))


def from_lock_text(text: str) -> list[dict[str, Any]]:
    """Packages of a pip-style lock's text (what `envforge lock` writes): its non-option logical lines."""
    return from_requirements([line for _, line in logical_lines(text.splitlines()) if not line.startswith("-")])


def from_installed(installed: tuple[str, ...] | list[str]) -> list[dict[str, Any]]:
    """Packages of a built env's freeze (no hashes known); the model's own local files are left out, as in a lock."""
    out = []
    for p in installed_packages(installed):
        if p.local:
            continue
        url = p.version[2:] if p.version.startswith("@ ") else None
        out.append({"name": p.name, "version": None if url else p.version, "url": url, "hashes": []})
    return sorted(out, key=lambda p: (p["name"], p["version"] or "", p["url"] or ""))


def digest(packages: list[dict[str, Any]]) -> str:
    """`sha256:<hex>` of the canonical form of a package set."""
    canonical = [{"name": p["name"], "version": p.get("version"), "url": p.get("url"), "hashes": sorted(p.get("hashes") or [])}
                 for p in sorted(packages, key=lambda p: (p["name"], p.get("version") or "", p.get("url") or ""))]
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


__all__ = ["digest", "from_installed", "from_lock_text", "from_requirements"]
