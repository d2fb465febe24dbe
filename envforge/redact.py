"""Remove credentials from URLs and free text before they reach a report or a log."""

from __future__ import annotations

import re

# Linear on any input (issue 17): a scheme is only tried where a run of scheme characters starts (the
# lookbehind; leading digits are kept in `pre`), not at every letter of a multi-megabyte word.
_SCHEME = re.compile(r"(?<![a-zA-Z0-9+.-])(?P<pre>[0-9+.-]*)(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)")
_USERINFO = re.compile(_SCHEME.pattern + r"(?P<userinfo>[^/@\s:]*(:[^/@\s]*)?)@")
# anaconda.org-style channel tokens: https://conda.anaconda.org/t/<token>/channel (not ${VAR} placeholders)
_CHANNEL_TOKEN = re.compile(r"/t/[A-Za-z0-9_-]+(?=/)")
_TOKEN_PARAM = re.compile(r"(?i)(?P<key>[?&](?:token|access_token|api_key|apikey|password|sig|signature)=)[^&\s]+")


def redact(text: str) -> str:
    text = _USERINFO.sub(lambda m: f"{m.group('pre')}{m.group('scheme')}***@", text)
    text = _path_tokens(text)
    return _TOKEN_PARAM.sub(lambda m: f"{m.group('key')}***", text)


def _path_tokens(text: str) -> str:
    """What `re.sub(r"(scheme://\\S*?/t/)[A-Za-z0-9_-]+(?=/)", r"\\1***")` does, in linear time: that regex
    rescans the rest of a long word from every "x://" in it. Here the next token after a position is looked up
    once and reused by every scheme before it."""
    out, cursor, found = [], 0, None
    for word in re.finditer(r"\S+", text):
        if "/t/" not in word.group() or "://" not in word.group():
            continue
        found = None
        for scheme in _SCHEME.finditer(text, max(cursor, word.start()), word.end()):
            if scheme.start("scheme") < cursor:
                continue
            if found is None or found.start() < scheme.end():
                found = _CHANNEL_TOKEN.search(text, scheme.end(), word.end())
                if found is None:
                    break
            out += [text[cursor:found.start() + 3], "***"]
            cursor = found.end()
    return "".join(out) + text[cursor:]
