"""--junit FILE: a test case per example of every verdict (report/junit.py); for verify-registry with two
resolutions also an `envforge.drift` suite, a case per version's drift verdict. Written once, at the run's end."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from envforge.reporters.stream import Context, Reporter, RunEnded


def reporter(context: Context) -> Reporter | None:
    return JunitFile(context) if context.junit_path else None


class JunitFile(Reporter):
    def __init__(self, context: Context) -> None:
        self.path = context.junit_path

    def ended(self, event: RunEnded) -> None:
        from envforge.report.junit import write_junit

        assert self.path is not None
        write_junit(event.results, self.path, [drift_suite(event.drift)] if event.drift else [])


def drift_suite(found: list[dict[str, Any]]) -> ET.Element:
    from envforge.registry.drift import BAD, NO_BASELINE

    suite = ET.Element("testsuite", name="envforge.drift", tests=str(len(found)),
                       failures=str(sum(v["verdict"] in BAD for v in found)), errors="0",
                       skipped=str(sum(v["verdict"] == NO_BASELINE for v in found)))
    for v in found:
        case = ET.SubElement(suite, "testcase", classname="envforge.registry.drift", name=v["uri"])
        props = ET.SubElement(case, "properties")
        ET.SubElement(props, "property", name="verdict", value=v["text"])
        for key in v["pair"]:
            ET.SubElement(props, "property", name=f"status.{key}", value=str(v[key]))
        if v["verdict"] in BAD:
            ET.SubElement(case, "failure", message=v["text"]).text = "\n".join(f"{k}: {r}" for k, r in v["reasons"].items())
        elif v["verdict"] == NO_BASELINE:
            ET.SubElement(case, "skipped", message="no expectations to compare with (--record-missing records them)")
    return suite
