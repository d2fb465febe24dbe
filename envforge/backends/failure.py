"""What went wrong in an installer's output, in one line: the headline of a build error.

uv prints `error: <what>` followed by `  cause: <why>` lines; pip prints `ERROR: <what>` lines,
the last one the most specific. The headline names the package and pin that failed; the excerpt
keeps the lines around it (the head of the causes and the tail of a build log).
"""

from __future__ import annotations

import re

from envforge.processes.proc import Outcome

_UPPER = re.compile(r"^ERROR:\s*(?P<text>\S.*)$")
_LOWER = re.compile(r"^(?:error:|\s*×)\s*(?P<text>\S.*)$")
_CAUSE = re.compile(r"^\s*(?:cause:|╰─▶|├─▶)\s*(?P<text>\S.*)$")
_GENERIC = ("No solution found", "Request failed", "Failed to fetch")
_SOURCE_BUILD = re.compile(r"^Failed to (?:download and )?build `(?P<pin>[^`]+)`")
_LOCK_WAIT = re.compile(r"Timeout \((?P<seconds>\d+)s\) when waiting for lock on `(?P<path>[^`]+)`")


def summarize(outcome: Outcome, limit: int = 25) -> tuple[str | None, str]:
    """(headline or None, excerpt) of a failed installer run."""
    lines = (outcome.stderr.strip() or outcome.stdout.strip()).splitlines()
    upper = [i for i, line in enumerate(lines) if _UPPER.match(line)]
    lower = [i for i, line in enumerate(lines) if _LOWER.match(line)]
    if upper:
        start, match = upper[-1], _UPPER.match(lines[upper[-1]])
    elif lower:
        start, match = lower[0], _LOWER.match(lines[lower[0]])
    else:
        return None, "\n".join(lines[-limit:])
    assert match is not None
    headline = match.group("text").strip().rstrip(":")
    cause = _CAUSE.match(lines[start + 1]) if start + 1 < len(lines) else None
    if cause and headline.startswith(_GENERIC):  # the first cause names the package or the URL
        headline += ": " + cause.group("text").strip()
    built = _SOURCE_BUILD.match(headline)
    waited = next((m for line in lines if (m := _LOCK_WAIT.search(line))), None)
    if waited:  # not the requirement's fault: uv gave up on a lock another uv process held
        headline += (f" (uv gave up after {waited.group('seconds')} s waiting for the lock on {waited.group('path')}, which "
                     "another uv process held: run again when the other job is done, raise UV_LOCK_TIMEOUT, or give "
                     "this job its own UV_CACHE_DIR)")
    elif built:
        headline += (f" (no wheel of {built.group('pin')} fits this Python and platform, so the installer built it "
                     "from source, and that failed)")
    first = upper[0] if upper else start
    rest = lines[first:]
    excerpt = rest if len(rest) <= limit else [*rest[: limit - 9], "…", *rest[-8:]]
    return headline, "\n".join(excerpt)
