"""The test files start longest first under xdist (tests/support/file_order.py, scripts/test.sh)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.support import file_order


def items(*nodeids: str) -> list[SimpleNamespace]:
    return [SimpleNamespace(nodeid=n) for n in nodeids]


def test_files_start_longest_first_and_keep_their_tests_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record = tmp_path / "file_seconds.json"
    record.write_text(json.dumps({"integration/test_long.py": 300.0, "tests/test_unit.py": 2.0, "tests/test_mid.py": 40.0}))
    monkeypatch.setattr(file_order, "RECORD", record)
    got = file_order.order(items("tests/test_unit.py::a", "tests/test_unit.py::b", "tests/test_mid.py::c",
                                 "integration/test_long.py::d", "integration/test_long.py::e", "integration/test_new.py::f",
                                 "tests/test_new.py::g"))
    assert [i.nodeid for i in got] == [
        "integration/test_long.py::d", "integration/test_long.py::e",  # the longest recorded
        "integration/test_new.py::f",  # unrecorded: an integration file's default (60 s)
        "tests/test_mid.py::c", "tests/test_new.py::g",  # 40 s, then an unrecorded unit file (5 s)
        "tests/test_unit.py::a", "tests/test_unit.py::b",
    ]


def test_the_record_is_read_from_a_junit_report(tmp_path: Path) -> None:
    report = tmp_path / "report.xml"
    report.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="tests.test_file_order" name="a" time="1.25"/>'
        '<testcase classname="tests.test_file_order" name="b" time="2.5"/>'
        '<testcase classname="integration.test_head_start.TestSomething" name="c" time="10"/>'
        '<testcase classname="nowhere.test_gone" name="d" time="99"/>'
        "</testsuite></testsuites>")
    assert file_order.from_junit(report) == {"integration/test_head_start.py": 10.0, "tests/test_file_order.py": 3.8}


def test_the_checked_in_record_names_files_that_exist() -> None:
    known = file_order.seconds()
    assert known, "tests/support/file_seconds.json is missing or empty"
    assert [p for p in known if not (file_order.ROOT / p).is_file()] == []


def test_keep_larger_keeps_each_files_worst_run() -> None:
    cold = {"integration/test_bisect.py": 280.0, "integration/test_docker.py": 200.0}
    warm = {"integration/test_bisect.py": 60.0, "integration/test_docker.py": 250.0, "tests/test_unit.py": 3.0}
    assert file_order.merged(cold, warm) == {"integration/test_bisect.py": 280.0, "integration/test_docker.py": 250.0,
                                             "tests/test_unit.py": 3.0}
    assert list(file_order.merged(cold, warm)) == ["integration/test_bisect.py", "integration/test_docker.py", "tests/test_unit.py"]
