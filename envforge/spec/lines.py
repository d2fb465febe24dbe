"""The one reader of requirement-file lines, as pip reads them: continuation lines joined, comments
stripped, an option split into its name and value. Used for a model's requirement files
(spec/requirements.py) and for envforge's own lock files (spec/envlock.py)."""

from __future__ import annotations


def logical_lines(lines: list[str]) -> list[tuple[int, str]]:
    """(number of the first physical line, the logical line) for each non-empty logical line."""
    out: list[tuple[int, str]] = []
    buffer, start = "", 0
    for number, raw in enumerate(lines, 1):
        text = raw.rstrip("\r\n")
        if not buffer:
            start = number
        if text.endswith("\\"):
            buffer += text[:-1]
            continue
        full = strip_comment(buffer + text)
        buffer = ""
        if full:
            out.append((start, full))
    if buffer and strip_comment(buffer):
        out.append((start, strip_comment(buffer)))
    return out


def strip_comment(text: str) -> str:
    """pip's rule: a `#` at the start, or after white space, starts a comment."""
    if text.lstrip().startswith("#"):
        return ""
    for i, ch in enumerate(text):
        if ch == "#" and i > 0 and text[i - 1] in " \t":
            return text[:i].strip()
    return text.strip()


def split_option(line: str) -> tuple[str, str]:
    """("--name", "value") of an option line: `--name value`, `--name=value`, or `-x value` / `-xvalue`."""
    if not line.startswith("--"):
        return line[:2], line[2:].strip()
    head, _, rest = line.partition(" ")
    if "=" in head:
        name, _, value = head.partition("=")
        return name, (value + " " + rest).strip()
    return head, rest.strip()
