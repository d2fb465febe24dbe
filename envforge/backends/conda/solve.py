"""Solve conda specs with py-rattler (no conda binary), and turn its failures into plain words."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

from envforge.backends.conda.channels import describe, scrub, usable_url
from envforge.errors import EnvBuildError, ModelDirError

if TYPE_CHECKING:
    from rattler import RepoDataRecord

T = TypeVar("T")

CHANNEL_REMEDY = ("Check the channel names and URLs (conda.yaml's `channels`, or --channel) and that they are reachable "
                  "from here; to use a mirror or a local copy pass --channel URL (repeatable), which replaces the logged channels.")
SOLVE_REMEDY = ("The channels do not hold packages that satisfy conda.yaml's dependencies (named above): pass --channel URL "
                "for a channel that has them, relax the version in conda.yaml, or install a known-good lock with --lockfile FILE.")


def platform() -> str:
    from rattler import Platform

    return str(Platform.current())


def run_async(coroutine: Awaitable[T]) -> T:
    """py-rattler's API is async; envforge is not."""
    async def wrapper() -> T:
        return await coroutine

    return asyncio.run(wrapper())


def solve(channels: list[str], specs: list[str], *, timeout: float, exclude_newer: str | None = None,
          require_timestamps: bool = True) -> list[RepoDataRecord]:
    """The records of an environment satisfying `specs` for this machine, from `channels` (in priority order);
    with exclude_newer (RFC 3339, --resolve), only what had been published by then."""
    import rattler

    parsed = [match_spec(spec) for spec in specs]
    cutoff: dict[str, Any] = {}
    if exclude_newer:
        moment = datetime.datetime.strptime(exclude_newer, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
        cutoff = {"exclude_newer": moment, "timestamp_policy": "require-timestamp" if require_timestamps else "allow-missing"}
    try:
        return run_async(rattler.solve(
            sources=[usable_url(c) for c in channels], specs=parsed, platforms=[platform(), "noarch"],
            virtual_packages=rattler.VirtualPackage.detect(), timeout=datetime.timedelta(seconds=timeout), **cutoff,
        ))
    except Exception as exc:  # py-rattler raises its own exception classes, all from Exception
        raise translate(exc, channels, specs) from None


def match_spec(spec: str) -> Any:
    import rattler
    from rattler.exceptions import InvalidMatchSpecError

    try:
        return rattler.MatchSpec(spec)
    except InvalidMatchSpecError as exc:
        raise ModelDirError(f"conda.yaml: {spec!r} is not a conda package spec ({_first_line(exc)}).",
                            "Fix the dependency in conda.yaml (e.g. `numpy=1.26` or `numpy >=1.26,<2`).") from None


def translate(exc: Exception, channels: list[str], specs: list[str]) -> EnvBuildError:
    """py-rattler's error as one EnvBuildError (exit 3): what failed, the solver's or channel's reason, the fix."""
    kind = type(exc).__name__
    text = scrub(str(exc)).strip()
    where = describe(channels)
    if kind == "SolverError":
        reason = text.split("because of:", 1)[-1].strip()
        return EnvBuildError(f"The conda dependencies cannot be satisfied from the channel(s) {where}: {reason}\n"
                             f"(asked for: {', '.join(specs)})", SOLVE_REMEDY)
    if kind in ("GatewayError", "FetchRepoDataError", "InvalidChannelError", "IoError", "InvalidUrlError"):
        reason = "; ".join(line.removeprefix("Caused by:").strip() for line in text.splitlines() if line.strip())
        return EnvBuildError(f"A conda channel could not be read ({where}): {reason}", CHANNEL_REMEDY)
    return EnvBuildError(f"py-rattler failed ({kind}) with the channel(s) {where}: {_first_line(text)}", CHANNEL_REMEDY)


def _first_line(exc: object) -> str:
    lines = str(exc).strip().splitlines()
    return scrub(lines[0]) if lines else type(exc).__name__
