"""The `envforge.reporters` entry points, read once per change of what is installed.

Scanning entry points imports importlib.metadata and reads every installed distribution's metadata: 20-50 ms on
every verify with full MLflow installed (hundreds of distributions), for a group that is usually empty. The answer
is kept in `$ENVFORGE_HOME/reporter-plugins.json` with the modification times of every directory on sys.path: installing
or removing a distribution adds or removes its `.dist-info` there (an editable one, a `.pth` file), which changes
that directory's time; a sys.path entry added or removed changes the list. Then, and on a missing or unreadable
record, the scan runs again. A plug-in is loaded from its `module:attribute` as importlib.metadata would load it.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from envforge.store.bookkeeping import read_record, write_record
from envforge.store.layout import home

FILE = "reporter-plugins.json"


def _installed_state() -> list[list[Any]]:
    state = []
    for entry in sys.path:
        try:
            state.append([entry, os.stat(entry or ".").st_mtime_ns])
        except OSError:
            state.append([entry, None])
    return state


def points(group: str) -> list[tuple[str, str]]:
    """(name, value) of each entry point of `group`, from the record while nothing installed changed."""
    state = _installed_state()
    record = read_record(home() / FILE)
    if isinstance(record, dict) and record.get("group") == group and record.get("installed") == state:
        kept = record.get("points")
        if isinstance(kept, list) and all(isinstance(p, list) and len(p) == 2 for p in kept):
            return [(str(name), str(value)) for name, value in kept]
    from importlib.metadata import entry_points

    found = [(point.name, point.value) for point in entry_points(group=group)]
    write_record(home() / FILE, {"group": group, "installed": state, "points": [list(p) for p in found]})
    return found


def load(value: str) -> Any:
    """What the entry point `module:attr.attr [extra]` names (importlib.metadata.EntryPoint.load's rule)."""
    module, _, attrs = value.split("[", 1)[0].strip().partition(":")
    loaded: Any = importlib.import_module(module.strip())
    for name in filter(None, attrs.strip().split(".")):
        loaded = getattr(loaded, name)
    return loaded
