"""What bisect does with a bound it cannot use.

A date as of which the model's requirements cannot be built (a pin not yet released, a resolver conflict) says nothing
about the model: it is neither good nor bad. Taken as the "good" side (it differs from the working date), it made
bisect answer backwards ("loads and predicts from 2026-11-04 on (it worked as of 2026-11-03)" when nothing could be
built on 2026-11-03). Such a bound stops bisect with that reason and what to pass instead; a day in between that
cannot be built is logged as neither and ends the narrowing with the range known so far."""

from __future__ import annotations

from typing import Any

from envforge.commands.bisect_probe import BUILD
from envforge.errors import UsageError
from envforge.spec.asof import LATEST, LOGGED

NO_BOUND = "no-bound"
NEITHER = "neither (cannot be built: says nothing about the model)"


def unusable_bound(result: Any, start: str, end: str) -> bool:
    """Set `result` to NO_BOUND when exactly one bound cannot be built (both: bisect's never-worked case); True then."""
    if (result.start.kind == BUILD) == (result.end.kind == BUILD):
        return False
    option, value, bad, other_option, other_value, other = (
        ("--from", start, result.start, "--to", end, result.end) if result.start.kind == BUILD
        else ("--to", end, result.end, "--from", start, result.start))
    result.verdict = NO_BOUND
    result.good_day = result.bad_day = None
    result.message = (f"no bound to bisect from: as of {option} {value} the model's environment cannot be built "
                      f"({bad.message}); a date that cannot be built is neither good nor bad, so it says nothing about the "
                      f"model (as of {other_option} {other_value} it {other.describe()}). Pass a {option} date on which it "
                      + ("builds, e.g. --from logged (the day it was logged)." if option == "--from" else "builds, e.g. --to latest."))
    return True


def empty_range(uri: str, start: str, end: str, lo: str, hi: str, logged_at: str | None) -> UsageError:
    """--from is not before --to: what to do instead (a model logged today, with the default options, is the usual case)."""
    if start == LOGGED and end == LATEST and logged_at:
        return UsageError(
            f"bisect: {uri} was logged on {logged_at[:10]}, so as of the day it was logged ({lo}) and as of today's index "
            "are one and the same: there is no range of dates to search yet.",
            f"To check it against today's packages run `envforge verify {uri} --resolve latest`; to bisect, pass --from a "
            "date before the one it broke on (on which its requirements could be built) and --to a later one.")
    return UsageError(f"bisect --from {start} ({lo}) is not before --to {end} ({hi}): there is no range of dates to search"
                      + ("" if logged_at else "; the model's MLmodel records no logging time") + ".",
                      "Pass --from YYYY-MM-DD (a date before it broke) and --to YYYY-MM-DD (or latest).")
