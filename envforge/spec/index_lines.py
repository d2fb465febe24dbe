"""Index lines and pins of old requirement files that no longer work (issue 34, point 4).

A `mlflow==2.5.1.dev0` pin (a development build of the logging machine) exists on no index, and a
`--find-links https://…` page that is gone fails the whole resolve. Under `--resolve logged` (the
default) the pin becomes its release (`mlflow==2.5.1`) and a remote find-links that does not answer is
dropped, each with a note naming the line; `--resolve latest` and dates leave the model's lines as they
are. Index URLs (--index-url/--extra-index-url) are honoured as logged; their credentials are redacted
wherever they are printed (redact.py) and they are never dropped: another index serves other files.
"""

from __future__ import annotations

import re
from dataclasses import replace

from envforge.redact import redact
from envforge.spec import EnvSpec

_DEV_PIN = re.compile(r"^(?P<name>mlflow(?:[-_]skinny)?)\s*==\s*(?P<release>[0-9]+(?:\.[0-9]+)*)\.dev[0-9]+\s*$", re.IGNORECASE)
PROBE_SECONDS = 5.0


def applies(resolve: str | None) -> bool:
    """`--resolve logged`, which is also the default."""
    return resolve in (None, "logged")


def release_pins(requirements: tuple[str, ...]) -> tuple[tuple[str, ...], list[str]]:
    """mlflow==X.Y.Z.devN -> mlflow==X.Y.Z, with a note per line changed."""
    out, notes = [], []
    for line in requirements:
        match = _DEV_PIN.match(line)
        if match:
            fixed = f"{match.group('name')}=={match.group('release')}"
            notes.append(f"the requirement `{line}` names a development build that no index has: installed as `{fixed}` (--resolve logged)")
            line = fixed
        out.append(line)
    return tuple(out), notes


def _answers(url: str) -> bool:
    try:
        import urllib.request  # only when an index is probed: it imports http.client, ssl and email

        request = urllib.request.Request(url, method="HEAD")
        with urllib.request.urlopen(request, timeout=PROBE_SECONDS) as response:  # noqa: S310 (http/https only, checked by the caller)
            return int(response.status) < 400
    except Exception:
        return False


def live_links(options: tuple[str, ...], probe=_answers) -> tuple[tuple[str, ...], list[str]]:
    """The model's index options without the remote --find-links pages that do not answer."""
    out: list[str] = []
    notes: list[str] = []
    items = list(options)
    i = 0
    while i < len(items):
        option = items[i]
        if option == "--find-links" and i + 1 < len(items) and items[i + 1].startswith(("http://", "https://")):
            url = items[i + 1]
            if not probe(url):
                notes.append(f"the model's requirements name `--find-links {redact(url)}`, which does not answer: dropped (--resolve logged)")
                i += 2
                continue
        out.append(option)
        i += 1
    return tuple(out), notes


def amend(spec: EnvSpec, resolve: str | None, offline: bool = False) -> EnvSpec:
    """The spec with dead find-links dropped and .devN mlflow pins released, under --resolve logged."""
    if not applies(resolve):
        return spec
    requirements, notes = release_pins(spec.requirements)
    options = spec.index_options
    if not offline and any(o == "--find-links" for o in options):
        options, dropped = live_links(options)
        notes += dropped
    if not notes:
        return spec
    return replace(spec, requirements=requirements, index_options=options, notes=(*spec.notes, *notes))
