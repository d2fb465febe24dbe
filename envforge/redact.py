"""Remove credentials from URLs and free text before they reach a report or a log."""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s:]*(:[^/@\s]*)?)@")
# anaconda.org-style channel tokens: https://conda.anaconda.org/t/<token>/channel (not ${VAR} placeholders)
_PATH_TOKEN = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://\S*?/t/)[A-Za-z0-9_-]+(?=/)")
_TOKEN_PARAM = re.compile(r"(?i)(?P<key>[?&](?:token|access_token|api_key|apikey|password|sig|signature)=)[^&\s]+")


def redact(text: str) -> str:
    text = _USERINFO.sub(lambda m: f"{m.group('scheme')}***@", text)
    text = _PATH_TOKEN.sub(lambda m: f"{m.group('head')}***", text)
    return _TOKEN_PARAM.sub(lambda m: f"{m.group('key')}***", text)
