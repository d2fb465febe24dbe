"""The JSON Schema shipped in the package (envforge/report/schema.json) holds for every kind of --json report:
each verdict of verify (built here from real comparisons), an error the real CLI writes, verify-registry's
document with its registry section (the real CLI, on a file of URIs); and the JUnit report has a case per example."""

from __future__ import annotations

import json
import re
import socket
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from envforge.compare import compare
from envforge.errors import EnvBuildError
from envforge.report.json_report import write_json
from envforge.report.junit import write_junit
from envforge.result import FAILED, PASSED, UNVERIFIED, Step, VerifyResult
from envforge.version import __version__
from tests.support.cli import envforge

ISO = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"


def schema() -> dict:
    return json.loads(resources.files("envforge.report").joinpath("schema.json").read_text())


def ndarray(data: list[float]) -> dict:
    return {"kind": "ndarray", "dtype": "float64", "shape": [len(data)], "data": data}


def _result(status: str) -> VerifyResult:
    result = VerifyResult(uri="models:/iris/3", backend="uv")
    result.source = {"kind": "registered", "tracking_uri": "https://***@mlflow.example", "run_id": "0a1b2c", "artifact_path": "model",
                     "model_id": "m-1234", "name": "iris", "version": "3"}
    result.steps = [Step("resolve", 0.1, "cached"), Step("build", 1.0, "reused"), Step("predict", 0.5, "2 of 2 example(s)")]
    result.examples = [{"name": "a", "source": "example", "ok": True}, {"name": "b", "source": "file", "ok": True}]
    if status == PASSED:
        result.comparison = compare({"a": ndarray([1.0]), "b": ndarray([2.0])}, {"a": ndarray([1.0]), "b": ndarray([2.0])})
        return result.finish(PASSED, "2 example(s) match the recorded predictions")
    if status == FAILED:
        result.comparison = compare({"a": ndarray([1.0]), "b": ndarray([2.0])}, {"a": ndarray([1.0]), "b": ndarray([2.5])})
        return result.finish(FAILED, result.comparison.summary())
    if status == UNVERIFIED:
        return result.finish(UNVERIFIED, "predictions ran, but no expectations were recorded")
    result.examples = []
    result.steps[1].failed = True
    return result.error_from(EnvBuildError("uv could not install scikit-learn==0.19.0 for Python 3.12.1.", "Pin a newer version."))


@pytest.mark.parametrize("status", ["passed", "failed", "unverified", "error"])
def test_every_verdict_of_verify_matches_the_schema(tmp_path: Path, status: str) -> None:
    write_json([_result(status)], tmp_path / "r.json")
    document = json.loads((tmp_path / "r.json").read_text())
    jsonschema.validate(document, schema())
    assert document["schema_version"] == 2 and document["envforge_version"] == __version__
    [result] = document["results"]
    assert result["model"]["run_id"] == "0a1b2c" and result["model"]["model_id"] == "m-1234" and result["model"]["version"] == "3"
    assert re.match(ISO, result["started_at"]) and re.match(ISO, result["finished_at"]) and re.match(ISO, document["started_at"])


def test_the_schema_catches_a_broken_report(tmp_path: Path) -> None:
    write_json([_result("passed")], tmp_path / "r.json")
    document = json.loads((tmp_path / "r.json").read_text())
    document["results"][0]["status"] = "fine"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema())


def test_an_error_report_of_the_real_cli_matches_the_schema(tmp_path: Path) -> None:
    run = envforge("verify", "/nonexistent/model", "--json", str(tmp_path / "r.json"), home=tmp_path / "home")
    assert run.returncode == 2
    document = json.loads((tmp_path / "r.json").read_text())
    jsonschema.validate(document, schema())
    assert document["results"][0]["steps"][0] == {"name": "resolve", "seconds": document["results"][0]["steps"][0]["seconds"],
                                                  "detail": "", "failed": True}


def test_a_registry_report_of_the_real_cli_matches_the_schema(tmp_path: Path) -> None:
    uris = tmp_path / "uris.txt"
    uris.write_text("/nonexistent/a\n/nonexistent/b\n")
    run = envforge("verify-registry", "--uris-file", str(uris), "--json", str(tmp_path / "r.json"), "--junit", str(tmp_path / "r.xml"),
                   home=tmp_path / "home")
    assert run.returncode == 2, run.output  # every version errored alike (no such directory): their own code (issue 31)
    document = json.loads((tmp_path / "r.json").read_text())
    jsonschema.validate(document, schema())
    assert document["registry"]["summary"]["error"] == 2
    assert run.stdout.rstrip().endswith(f"wrote {tmp_path / 'r.json'}, {tmp_path / 'r.xml'}")  # after the summary


def test_junit_has_a_case_per_example_a_timestamp_hostname_and_properties(tmp_path: Path) -> None:
    write_junit([_result("failed"), _result("error")], tmp_path / "r.xml")
    suite = ET.parse(tmp_path / "r.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("hostname") == socket.gethostname()
    assert suite.get("timestamp") and "T" in str(suite.get("timestamp"))
    props = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
    assert props["envforge.version"] == __version__
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["models:/iris/3 [a]", "models:/iris/3 [b]", "models:/iris/3"]
    assert cases[0].find("failure") is None and cases[1].find("failure") is not None  # example b differs, a does not
    assert suite.get("tests") == "3" and suite.get("failures") == "1" and suite.get("errors") == "1"
    error_text = cases[2].find("error").text or ""
    assert error_text.count("uv could not install scikit-learn==0.19.0") == 1 and "fix: Pin a newer version." in error_text


def test_junit_of_require_expected_fails_each_example(tmp_path: Path) -> None:
    strict = _result("unverified").finish(UNVERIFIED, "no expectations were recorded", 1)
    write_junit([strict], tmp_path / "r.xml")
    suite = ET.parse(tmp_path / "r.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "2" and suite.get("skipped") == "0"


def test_the_schema_is_package_data() -> None:
    pyproject = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    assert 'packages = ["envforge"]' in pyproject  # hatchling ships every file of the package, schema.json included
    assert schema()["properties"]["schema_version"]["const"] == 2
