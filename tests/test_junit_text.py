"""--junit writes what the model's process said, and that may hold terminal colours or other control bytes that
XML 1.0 cannot contain: the file must still parse (a verify-registry run wrote one that did not)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from envforge.report.junit import write_junit, xml_text
from envforge.result import FAILED, VerifyResult


def test_control_bytes_in_a_verdict_are_escaped_and_the_file_parses(tmp_path: Path) -> None:
    result = VerifyResult(uri="models:/m/1", backend="uv")
    result.model_warnings = ["\x1b[33mUserWarning\x1b[0m: odd \x00 byte"]
    result.model_error = {"type": "ValueError", "message": "bad \x07 input"}
    result.finish(FAILED, "the model raised \x1b[31mValueError\x1b[0m")
    path = tmp_path / "r.xml"
    write_junit([result], path)
    text = path.read_text()
    root = ET.parse(path).getroot()  # raised ParseError before
    assert "\x1b" not in text and "\\x1b[33mUserWarning" in text
    assert any("\\x00 byte" in (p.get("value") or "") for p in root.iter("property"))


def test_ordinary_text_is_left_as_it_is() -> None:
    assert xml_text("tab\there\nand é, 日本, 🙂") == "tab\there\nand é, 日本, 🙂"
    assert xml_text(None) is None and xml_text("") == ""
