"""--junit FILE: one test case per input example of each verified model (so CI shows which example
failed), one for a model that never got to run its examples; the suite has a timestamp, the hostname
and properties (envforge version, backends), each failure's text says each thing once."""

from __future__ import annotations

import re
import socket
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from envforge.redact import redact
from envforge.report import verdict_lines
from envforge.result import ERROR, FAILED, INTERRUPTED, UNVERIFIED, VerifyResult
from envforge.version import __version__


def write_junit(results: list[VerifyResult], path: Path, more: list[ET.Element] | None = None) -> None:
    """The suite of every verdict, then `more` suites (verify-registry's drift verdicts), in one write."""
    cases = [case for result in results for case in _cases(result)]
    started = min((r.started_at for r in results), default="")
    suite = ET.Element("testsuite", name="envforge", tests=str(len(cases)),
                       failures=str(sum(c.find("failure") is not None for c in cases)),
                       errors=str(sum(c.find("error") is not None for c in cases)),
                       skipped=str(sum(c.find("skipped") is not None for c in cases)),
                       time=f"{sum(r.seconds for r in results):.3f}", timestamp=started.rstrip("Z"), hostname=socket.gethostname())
    props = ET.SubElement(suite, "properties")
    for name, value in (("envforge.version", __version__), ("backends", ",".join(sorted({r.backend for r in results})))):
        ET.SubElement(props, "property", name=name, value=value)
    suite.extend(cases)
    path.parent.mkdir(parents=True, exist_ok=True)
    root = ET.Element("testsuites")
    root.append(suite)
    root.extend(more or [])
    for element in root.iter():  # the model's warnings and errors may hold terminal colours or other control bytes
        element.text, element.tail = xml_text(element.text), xml_text(element.tail)
        element.attrib.update({k: xml_text(v) for k, v in element.attrib.items()})
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


# What XML 1.0 cannot hold at all, escaped or not: ElementTree writes it as is and no reader parses the file.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str | None) -> str | None:
    """`text` with each character XML 1.0 cannot hold written as its Python escape (ESC -> \\x1b)."""
    return _NOT_XML.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text) if text else text


def _cases(result: VerifyResult) -> list[ET.Element]:
    """One case per example; a model with no example run (its env failed, nothing to run) is one case."""
    names = [str(e.get("name")) for e in result.examples] or [None]
    share = result.seconds / len(names)
    cases = []
    for name in names:
        case = ET.Element("testcase", classname=f"envforge.commands.verify.{result.backend}",
                          name=redact(result.uri if name is None else f"{result.uri} [{name}]"), time=f"{share:.3f}")
        _properties(case, result, name)
        _outcome(case, result, name)
        out = ET.SubElement(case, "system-out")
        out.text = "\n".join(f"{s.name}: {s.seconds:.2f} s {s.detail}".rstrip() + (" (failed)" if s.failed else "") for s in result.steps)
        if result.resolution:
            out.text += f"\nresolved as of: {result.resolution.get('moment') or 'latest'} ({result.resolution.get('why')})"
        out.text += "".join("\n" + line for line in verdict_lines.extra_lines(result))
        cases.append(case)
    if result.status in (FAILED, ERROR) and not any(c.find("failure") is not None or c.find("error") is not None for c in cases):
        _outcome(cases[0], result, names[0], force=True)  # a failure no example explains: on the first, never lost
    return cases


def _properties(case: ET.Element, result: VerifyResult, name: str | None) -> None:
    """Where the example came from and where the expectations were recorded."""
    rows: list[tuple[str, Any]] = [(f"expectations.{k}", v) for k, v in (result.baseline or {}).items()]
    rows += [(f"example.{e.get('name')}.source", e.get("source")) for e in result.examples if name is None or e.get("name") == name]
    rows += verdict_lines.properties(result)  # drift, the model's warnings, a rebuilt env's reason
    if rows:
        props = ET.SubElement(case, "properties")
        for key, value in rows:
            ET.SubElement(props, "property", name=key, value=redact(str(value)))


def _outcome(case: ET.Element, result: VerifyResult, name: str | None, force: bool = False) -> None:
    """Skipped (unverified and exit 0), a failure or an error of this example, or nothing (it passed)."""
    if result.status == UNVERIFIED and result.exit_code == 0:
        ET.SubElement(case, "skipped", message=redact(result.reason))
        return
    if result.status == INTERRUPTED:  # not run to the end: no verdict on the model (registry/interruption.py)
        ET.SubElement(case, "skipped", type=INTERRUPTED, message=f"INTERRUPTED: {redact(result.reason)}")
        return
    if result.status not in (FAILED, ERROR, UNVERIFIED):
        return
    diffs = [d for d in result.comparison.diffs if name is None or d.example == name] if result.comparison else []
    error = result.model_error or {}
    mine = force or name is None or error.get("stage") == "load" or error.get("example") == name or bool(result.error) \
        or result.status == UNVERIFIED  # --require-expected: every example lacks expectations
    if not diffs and not mine:  # the model failed, but not on this example
        return
    tag = "error" if result.status == ERROR else "failure"
    message = diffs[0].message if diffs and name is not None else result.reason
    ET.SubElement(case, tag, message=redact(message)).text = _details(result, diffs)


def _details(result: VerifyResult, diffs: list[Any]) -> str:
    """Each thing once: the reason, the diffs, the model's traceback, the error and its fix."""
    lines = [result.reason]
    lines += [f"{d.example} {d.location} [{d.kind}]: {d.message}" for d in diffs[:50]]
    if result.model_error:
        lines.append(str(result.model_error.get("traceback") or result.model_error.get("message") or ""))
    if result.error:
        lines += [result.error.get("message", ""), ("fix: " + result.error["remedy"]) if result.error.get("remedy") else ""]
    seen: list[str] = []
    for line in (line.strip() for line in lines):
        if not line or any(s.startswith(line) for s in seen):
            continue  # said already (the reason is the error message's first line)
        longer = [i for i, s in enumerate(seen) if line.startswith(s)]
        if longer:
            seen[longer[0]] = line
        else:
            seen.append(line)
    return redact("\n".join(seen))
