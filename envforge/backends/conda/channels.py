"""Conda channels: which ones a build uses, and their URLs without credentials.

conda.yaml's channels (or the user's --channel, which replaces them) are names ("conda-forge"),
URLs, or `defaults`. A URL may carry credentials: `https://user:secret@host/channel` or an
anaconda-style token path `https://host/t/<token>/channel`. Those are used to download and never
written anywhere else: locks and reports get `public_url`, which keeps conda-lock's `${VAR}`
placeholders (expanded from the environment when used) and drops literal secrets.
"""

from __future__ import annotations

import os
import re

from envforge.errors import UsageError

# conda's `defaults` (what `conda` means by it); `nodefaults` only says "not those".
DEFAULTS = ("https://repo.anaconda.com/pkgs/main", "https://repo.anaconda.com/pkgs/r")
FALLBACK = "conda-forge"  # conda.yaml without channels: MLflow itself always logs conda-forge

_USERINFO = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@]*)@")
_TOKEN = re.compile(r"/t/(?P<token>[^/]+)")
_PLACEHOLDER = re.compile(r"^\$\{?[A-Za-z_][A-Za-z0-9_]*\}?$")


def effective(channels: tuple[str, ...] | list[str]) -> list[str]:
    """The channels to solve or look up from: `defaults` expanded, `nodefaults` dropped, no duplicates."""
    out: list[str] = []
    for raw in channels:
        channel = str(raw).strip().rstrip("/")
        if not channel or channel == "nodefaults":
            continue
        if any(c.isspace() for c in channel):
            raise UsageError(f"{public_url(channel)!r} is not a conda channel name or URL.",
                             "Fix the channel in conda.yaml, or pass --channel URL.")
        out += list(DEFAULTS) if channel == "defaults" else [channel]
    return list(dict.fromkeys(out)) or [FALLBACK]


def usable_url(channel: str) -> str:
    """The URL to download from: `${VAR}` placeholders (conda-lock's way to name a secret) expanded."""
    return os.path.expandvars(channel) if "$" in channel else channel


def public_url(url: str) -> str:
    """`url` without literal credentials (placeholders such as ${TOKEN} stay: they are not secrets)."""
    match = _USERINFO.match(url)
    if match:
        user, _, password = match.group("userinfo").partition(":")
        kept = [part for part in (user, password) if _PLACEHOLDER.match(part)]
        userinfo = ":".join(kept)
        url = match.group("scheme") + (f"{userinfo}@" if userinfo else "") + url[match.end():]
    return _TOKEN.sub(lambda m: m.group(0) if _PLACEHOLDER.match(m.group("token")) else "/t/<TOKEN>", url)


def describe(channels: list[str] | tuple[str, ...]) -> str:
    return ", ".join(public_url(c) for c in channels)


def scrub(text: str) -> str:
    """Free text (a tool's error message) with URL credentials and channel tokens removed."""
    from envforge.redact import redact

    return _TOKEN.sub(lambda m: m.group(0) if _PLACEHOLDER.match(m.group("token")) else "/t/<TOKEN>", redact(text))
