"""The costliest inputs envforge's limits still accept (issue 17), measured: what bounds envforge's own CPU
time and peak RSS on a model directory it does read (tests/test_fuzz_shapes.py covers what it refuses).
Each input is tens of MB of dense JSON or YAML; kept out of the quick loop for the seconds they take."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.measured import measured_envforge
from tests.support.shapes import BASE, check_bounded, make_model, write

pytestmark = pytest.mark.slow

JUST_UNDER = {  # the costliest inputs the limits still accept: what bounds envforge's CPU and memory
    "1M dicts of two keys": ("input_example.json", [("[", 1), ('{"a":1,"b":2},', 999_000), ("{}]", 1)]),
    "1.4M empty dicts": ("input_example.json", [("[", 1), ("{},", 1_450_000), ("{}]", 1)]),
    "900k expectations": ("envforge-expectations.json", [('{"examples": [', 1), ('{"name":"e","prediction":1},', 900_000),
                                                          ('{"name":"e","prediction":1}]}', 1)]),
    "199k YAML values": ("MLmodel", [(BASE["MLmodel"] + "extra:\n", 1), ("  - a\n", 199_000)]),
    "10k long requirement lines": ("requirements.txt", [("mlflow\n", 1), ("a" * 399 + "\n", 9_998)]),
}


@pytest.mark.parametrize("case", JUST_UNDER)
def test_the_largest_accepted_inputs_stay_bounded(tmp_path: Path, case: str) -> None:
    kind, segments = JUST_UNDER[case]
    model = make_model(tmp_path, "constraints.txt", "many", "numpy<3", 1)
    write(model / kind, segments)
    run = measured_envforge("inspect", str(model), home=tmp_path / "home")
    check_bounded(run)
    assert run.returncode == 0 and "far larger than" not in run.output  # accepted, not refused
