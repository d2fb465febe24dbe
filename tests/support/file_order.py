"""The order the test files start in under pytest-xdist (scripts/test.sh: `--dist loadfile --no-loadscope-reorder`):
the longest first.

Two workers take whole files in turn. xdist's own order (most tests first) put the integration files with one or
two tests last, and those are the longest (a Spark image, a bisect, a podman engine): a file of minutes started
last kept one worker busy while the other sat idle. Here the files start by their seconds in a recorded run, the
longest first; a file the record does not know starts as if it took UNKNOWN_SECONDS of its directory.

The record is tests/support/file_seconds.json (a path -> seconds, setup to teardown, summed over its tests),
taken from a whole run's JUnit report (scripts/test.sh writes .test-report.xml each run):

    .venv/bin/python -m tests.support.file_order .test-report.xml                 # rewrites file_seconds.json from it
    .venv/bin/python -m tests.support.file_order .test-report.xml --keep-larger   # each file's larger of the two

`--keep-larger` keeps, per file, the larger of the record's and the report's seconds: a run on a fresh machine (every
cache cold: downloads, images, interpreters' envs) and one on a warm machine differ most in the long files, and the
order that matters is the cold one's, the run nearest CI's 90 minutes.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

RECORD = Path(__file__).with_name("file_seconds.json")
ROOT = Path(__file__).resolve().parents[2]
UNKNOWN_SECONDS = {"integration": 60.0, "tests": 5.0}


def seconds() -> dict[str, float]:
    try:
        return {str(k): float(v) for k, v in json.loads(RECORD.read_text()).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def order(items: list) -> list:
    """`items` (pytest's) with their files' order changed to the longest first; the tests of a file keep theirs."""
    known = seconds()

    def cost(item) -> float:
        path = item.nodeid.split("::", 1)[0]
        return known.get(path, UNKNOWN_SECONDS.get(path.split("/", 1)[0], 5.0))

    return sorted(items, key=lambda item: -cost(item))  # stable: a file's tests stay together and in order


def from_junit(report: Path) -> dict[str, float]:
    """path -> seconds from a JUnit report's test cases (classname `integration.test_x` or `...test_x.TestClass`)."""
    totals: dict[str, float] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        parts = case.get("classname", "").split(".")
        for end in range(len(parts), 0, -1):
            path = "/".join(parts[:end]) + ".py"
            if (ROOT / path).is_file():
                totals[path] = totals.get(path, 0.0) + float(case.get("time") or 0.0)
                break
    return {path: round(secs, 1) for path, secs in sorted(totals.items(), key=lambda kv: -kv[1])}


def merged(old: dict[str, float], new: dict[str, float]) -> dict[str, float]:
    """Per file, the larger of the two records' seconds (a file only one names: its seconds there), longest first."""
    both = {path: max(old.get(path, 0.0), new.get(path, 0.0)) for path in {*old, *new}}
    return dict(sorted(both.items(), key=lambda kv: (-kv[1], kv[0])))


if __name__ == "__main__":
    report = from_junit(Path(sys.argv[1]))
    record = merged(seconds(), report) if "--keep-larger" in sys.argv[2:] else report
    RECORD.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {RECORD} ({len(record)} files)")
