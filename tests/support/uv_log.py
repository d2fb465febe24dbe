"""uv's calls, logged: a shim on envforge's uv path that writes each call's arguments and execs the real binary
(the only stand-in: it counts the calls; uv itself runs as always)."""

from __future__ import annotations

from pathlib import Path

import pytest

from envforge.backends import tools


def log_uv_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file uv's calls go to, one line each; ENVFORGE_HOME in tmp_path too."""
    log, shim = tmp_path / "uv-calls.log", tmp_path / "uv-shim"
    shim.write_text(f'#!/bin/sh\necho "$@" >> "{log}"\nexec "{tools.uv_bin()}" "$@"\n')
    shim.chmod(0o755)
    monkeypatch.setattr(tools, "_uv", str(shim))
    monkeypatch.setenv("ENVFORGE_HOME", str(tmp_path / "home"))
    return log
