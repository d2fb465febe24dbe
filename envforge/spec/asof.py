"""The moment a model's requirements are resolved at: `--resolve logged|latest|YYYY-MM-DD[THH:MM:SSZ]`.

An unpinned `numpy` means "numpy as the index stood then": the day the model was logged, it was
1.26; today it is 2.x and the model may no longer load. This module is the one place that turns
the option (and the MLmodel's `utc_time_created`) into an `AsOf`: the cutoff (an RFC 3339 UTC
timestamp, or None for today's index), whether the user asked for it explicitly, and one line
saying why, for every report. Backends pass `AsOf.moment` to the installer (`--exclude-newer`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from envforge.errors import UsageError

LOGGED, LATEST, DATE, LOCKED = "logged", "latest", "date", "locked"
DEFAULT = LOGGED
HELP = ("resolve unpinned requirements as the package index stood: `logged` (default: when the model was logged, "
        "MLmodel utc_time_created), `latest` (today's index, what a fresh `mlflow models serve` installs), "
        "or a UTC date/time YYYY-MM-DD[THH:MM:SSZ]")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?(\.\d+)?(Z|[+-]00:?00)?$")


@dataclass(frozen=True)
class AsOf:
    mode: str               # logged | latest | date
    moment: str | None      # "2024-03-01T12:00:00Z" (UTC), None = today's index
    explicit: bool          # the user passed --resolve (else envforge's default)
    why: str                # one line for reports: which was used and why

    def label(self) -> str:
        if self.moment:
            return f"{self.moment} ({self.why})"
        return f"latest ({self.why})" if self.mode != LOCKED else f"not applied ({self.why})"

    def to_dict(self) -> dict[str, object]:
        return {"mode": self.mode, "moment": self.moment, "explicit": self.explicit, "why": self.why}


def format_moment(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_moment(text: str, what: str = "--resolve") -> datetime:
    """A UTC date (its end: everything uploaded that day counts) or date-time; UsageError otherwise."""
    text = text.strip()
    try:
        if _DATE.match(text):
            return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc) + timedelta(days=1) - timedelta(seconds=1)
        if _STAMP.match(text):
            plain = re.sub(r"(Z|[+-]00:?00)$", "", text)
            fmt = "%Y-%m-%dT%H:%M:%S" if plain.count(":") == 2 else "%Y-%m-%dT%H:%M"
            return datetime.strptime(plain.split(".")[0], fmt).replace(tzinfo=timezone.utc)
    except ValueError:
        pass
    raise UsageError(
        f"{what} {text!r} is not `logged`, `latest` or a UTC date (YYYY-MM-DD) or time (YYYY-MM-DDTHH:MM:SSZ), "
        "so envforge cannot tell as of when to resolve the model's requirements.",
        f"Pass e.g. `{what} logged`, `{what} latest` or `{what} 2024-06-01`.",
    )


def logged_moment(utc_time_created: str | None) -> datetime | None:
    """MLmodel's utc_time_created ('2022-07-07 08:10:54.535647', UTC) as a datetime, None if absent or unreadable."""
    if not utc_time_created:
        return None
    text = str(utc_time_created).strip().replace("T", " ").rstrip("Z")
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(text.split("+")[0], fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None


def resolve_as_of(option: str | None, utc_time_created: str | None, now: datetime | None = None) -> tuple[AsOf, list[str]]:
    """The AsOf for --resolve `option` (None: the default) and the warnings to report with it."""
    now = now or datetime.now(timezone.utc)
    explicit = option is not None
    choice = (option or DEFAULT).strip()
    if choice == LATEST:
        return AsOf(LATEST, None, explicit, "--resolve latest: today's index"), []
    if choice == LOGGED:
        logged = logged_moment(utc_time_created)
        if logged is None:
            said = "has no utc_time_created" if not utc_time_created else f"has an unreadable utc_time_created {utc_time_created!r}"
            warning = (f"the model's MLmodel {said}, so envforge cannot tell when it was logged: its requirements are "
                       "resolved against today's index (--resolve latest); pass --resolve YYYY-MM-DD to resolve as of a date")
            return AsOf(LATEST, None, explicit, "the MLmodel records no logging time"), [warning]
        if logged > now:
            warning = f"the MLmodel's utc_time_created ({utc_time_created}) is in the future: resolving against today's index"
            return AsOf(LATEST, None, explicit, "utc_time_created is in the future"), [warning]
        how = "--resolve logged" if explicit else "the default, --resolve logged"
        # The end of the UTC day it was logged: the index that day (what its training env could have had),
        # and one moment (one env) for every model logged that day, as verify-registry groups them.
        day_end = logged.replace(hour=23, minute=59, second=59, microsecond=0)
        return AsOf(LOGGED, format_moment(day_end), explicit, f"{how}: the day the model was logged ({logged:%Y-%m-%d %H:%M} UTC)"), []
    moment = parse_moment(choice)
    if moment > now:
        raise UsageError(
            f"--resolve {choice}: that moment is in the future (it is {format_moment(now)} now), and no package index "
            "can say what it will serve then.",
            "Pass a past date, `--resolve logged` (when the model was logged) or `--resolve latest` (today's index).",
        )
    return AsOf(DATE, format_moment(moment), True, f"--resolve {choice}"), []


def as_of_for(mlmodel: Any, backend: Any, options: Any) -> tuple[AsOf, tuple[str, ...]]:
    """The AsOf of one model under one backend (BuildOptions.resolve), with its warnings; what the backend can
    honour of it is the backend's own `limit_as_of` hook (the docker backend resolves against today's index)."""
    as_of, warnings = resolve_as_of(options.resolve, getattr(mlmodel, "utc_time_created", None))
    limited, notes = backend.limit_as_of(as_of, tuple(warnings), options)
    return limited, tuple(notes)


def effective(as_of: AsOf | None, env_moment: str | None) -> AsOf | None:
    """The AsOf a built env really has: the requested one, or latest when the build had to drop the cutoff."""
    if as_of is None or not as_of.moment or env_moment == as_of.moment:
        return as_of
    return AsOf(LATEST, None, as_of.explicit, f"{as_of.mode} was asked for ({as_of.moment}), but the package index "
                "serves no upload times, so today's index was used")


def check_option(option: str | None) -> None:
    """Validate --resolve early (before any download): UsageError for a bad or future value."""
    if option is not None and option.strip() not in (LOGGED, LATEST):
        resolve_as_of(option, None)


__all__ = ["AsOf", "DEFAULT", "HELP", "as_of_for", "check_option", "effective", "format_moment", "logged_moment", "parse_moment", "resolve_as_of"]
