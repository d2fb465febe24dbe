"""reporters/plugin_index.py: the report plug-ins' entry points are scanned again only when what is installed changed
(a distribution added to or removed from a sys.path directory, a sys.path entry added), else read from the record."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import pytest

from envforge.reporters import plugin_index


def _distribution(site: Path, module: str) -> None:
    """What `pip install` leaves: a module and its .dist-info with an envforge.reporters entry point."""
    (site / f"{module}.py").write_text("def reporter(context):\n    return None\n")
    info = site / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[envforge.reporters]\nevents = {module}:reporter\n")


def test_a_plug_in_is_found_kept_and_found_again_once_something_is_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVFORGE_HOME", str(tmp_path / "home"))
    site = tmp_path / "site"
    site.mkdir()
    _distribution(site, "ef_first_plugin")
    monkeypatch.syspath_prepend(str(site))
    assert plugin_index.points("envforge.reporters") == [("events", "ef_first_plugin:reporter")]
    assert plugin_index.load("ef_first_plugin:reporter").__name__ == "reporter"

    scans: list[str] = []
    real = importlib.metadata.entry_points
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **kw: scans.append(kw["group"]) or real(**kw))
    assert plugin_index.points("envforge.reporters") == [("events", "ef_first_plugin:reporter")] and scans == []  # kept

    _distribution(site, "ef_second_plugin")  # installed since: its directory's time changed
    assert sorted(plugin_index.points("envforge.reporters")) == [("events", "ef_first_plugin:reporter"),
                                                                  ("events", "ef_second_plugin:reporter")]
    assert scans == ["envforge.reporters"]
    sys.modules.pop("ef_first_plugin", None)
    sys.modules.pop("ef_second_plugin", None)


def test_an_unreadable_record_is_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVFORGE_HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / plugin_index.FILE).write_text("{not json")
    assert plugin_index.points("envforge.reporters") == [(p.name, p.value) for p in importlib.metadata.entry_points(group="envforge.reporters")]
