"""--junit FILE: one test case per verified model, for CI dashboards."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from envforge.redact import redact
from envforge.result import ERROR, FAILED, UNVERIFIED, VerifyResult


def write_junit(results: list[VerifyResult], path: Path) -> None:
    failures = sum(r.status == FAILED for r in results)
    errors = sum(r.status == ERROR for r in results)
    skipped = sum(r.status == UNVERIFIED for r in results)
    suite = ET.Element("testsuite", name="envforge", tests=str(len(results)), failures=str(failures),
                       errors=str(errors), skipped=str(skipped), time=f"{sum(r.seconds for r in results):.3f}")
    for result in results:
        case = ET.SubElement(suite, "testcase", classname=f"envforge.commands.verify.{result.backend}",
                             name=redact(result.uri), time=f"{result.seconds:.3f}")
        if result.examples or result.baseline:  # where each input came from; where the expectations were recorded
            props = ET.SubElement(case, "properties")
            for key, value in (result.baseline or {}).items():
                ET.SubElement(props, "property", name=f"expectations.{key}", value=str(value))
            for example in result.examples:
                ET.SubElement(props, "property", name=f"example.{example.get('name')}.source", value=str(example.get("source")))
        if result.status == FAILED:
            ET.SubElement(case, "failure", message=redact(result.reason)).text = _details(result)
        elif result.status == ERROR:
            ET.SubElement(case, "error", message=redact(result.reason)).text = _details(result)
        elif result.status == UNVERIFIED:
            ET.SubElement(case, "skipped", message=redact(result.reason))
        out = ET.SubElement(case, "system-out")
        out.text = "\n".join(f"{s.name}: {s.seconds:.2f} s {s.detail}" for s in result.steps)
        if result.resolution:
            out.text += f"\nresolved as of: {result.resolution.get('moment') or 'latest'} ({result.resolution.get('why')})"
    path.parent.mkdir(parents=True, exist_ok=True)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _details(result: VerifyResult) -> str:
    lines = [result.reason]
    if result.comparison is not None:
        lines += [f"{d.example} {d.location} [{d.kind}]: {d.message}" for d in result.comparison.diffs[:50]]
    if result.model_error:
        lines.append(str(result.model_error.get("traceback") or result.model_error.get("message") or ""))
    if result.error:
        lines += [result.error.get("message", ""), result.error.get("remedy", "")]
    return redact("\n".join(lines))
