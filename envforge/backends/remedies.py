"""The fix for a failed install that fits what failed: a conflict between requirements is not a missing version.

The backends' general remedy ("check that every pinned version exists on the package index") is the wrong advice
when every pin exists and they cannot be installed together; for that, the installer's own words say
"unsatisfiable" / "incompatible" (uv) or "ResolutionImpossible" / "conflicting dependencies" (pip)."""

from __future__ import annotations

import re

_MISSING = re.compile(r"there is no version of|No matching distribution found|not found in the package registry|"
                      r"was not found in the package registry|Could not find a version that satisfies|"
                      r"was not found in the cache|network was disabled", re.I)  # offline: missing, not clashing
_CONFLICT = re.compile(r"requirements are unsatisfiable|are incompatible|ResolutionImpossible|conflicting dependencies", re.I)

CONFLICT = ("The model's requirements conflict: each version exists, but they cannot be installed together (the installer's "
            "message above names the packages and the pins that clash). Change or loosen one of those pins in the model's "
            "requirements (or pass --lock FILE with a set that installs), then verify again.")


def fitting(output: str, remedy: str) -> str:
    """`remedy`, or the conflict remedy when the installer's output says the requirements conflict (and no version is
    missing)."""
    if _CONFLICT.search(output) and not _MISSING.search(output):
        return CONFLICT
    return remedy
