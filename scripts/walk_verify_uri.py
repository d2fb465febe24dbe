"""The walk of `envforge verify URI`'s uri (issue 28's measure): a real verify traced from
cli/model_commands.py:cmd_verify to the verdict (verify() returning).

A stop: a call of a function defined under envforge/ (in the main thread: sys.setprofile) one of whose
arguments is the uri string or holds it up to three attributes deep (result.uri, loaded.model.uri,
check.loaded.model.uri; a list or tuple argument: its first five items). Modules: the distinct modules of
the stops. Climbs back up: in the sequence of the stops' modules (consecutive repeats collapsed), each entry
into a module the walk had already left.

Usage: python scripts/walk_verify_uri.py URI [verify options]. A local model directory will do: it builds
(or reuses) the model's env and runs it as `envforge verify` does; the counts and the stops, in order, go
to stderr.
"""

from __future__ import annotations

import collections
import os
import sys
from typing import Any

import envforge
from envforge.cli import run

ROOT = os.path.dirname(envforge.__file__)


def holds(value: Any, uri: str, depth: int = 0) -> bool:
    if isinstance(value, str):
        return value == uri
    if depth >= 3 or value is None or isinstance(value, (int, float, bool, bytes)):
        return False
    if isinstance(value, (list, tuple)) and depth == 0:
        return any(holds(v, uri, depth + 1) for v in value[:5])
    attrs = getattr(value, "__dict__", None)
    if attrs is None and hasattr(value, "__slots__"):
        attrs = {k: getattr(value, k, None) for k in value.__slots__}
    if not attrs:
        return False
    return any(holds(v, uri, depth + 1) for k, v in list(attrs.items())[:60] if not k.startswith("__"))


def main() -> None:
    uri = sys.argv[1]
    stops: list[tuple[str, str]] = []
    active = [False]

    def profile(frame: Any, event: str, arg: Any) -> None:
        code = frame.f_code
        if event == "call" and code.co_filename.startswith(ROOT):
            if code.co_name == "cmd_verify":
                active[0] = True
            if not active[0]:
                return
            args = [frame.f_locals.get(n) for n in code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]]
            keywords = frame.f_locals.get("options") if code.co_flags & 0x08 else None
            if any(holds(a, uri) for a in args) or (isinstance(keywords, dict) and any(holds(v, uri) for v in keywords.values())):
                stops.append((os.path.relpath(code.co_filename, ROOT), code.co_name))
        elif event == "return" and code.co_name == "verify" and code.co_filename.endswith(os.path.join("commands", "verify.py")):
            active[0] = False

    sys.argv = ["envforge", "verify", *sys.argv[1:]]
    sys.setprofile(profile)
    try:
        run()
    except SystemExit:
        pass
    finally:
        sys.setprofile(None)
    modules = [m for m, _ in stops]
    collapsed = [m for i, m in enumerate(modules) if i == 0 or modules[i - 1] != m]
    seen: set[str] = set()
    climbs = 0
    for m in collapsed:
        climbs += m in seen
        seen.add(m)
    print(f"stops {len(stops)}  modules {len(set(modules))}  climbs back up {climbs}", file=sys.stderr)
    entered = collections.Counter(collapsed).most_common(5)
    print("most entered: " + ", ".join(f"{m} {n}" for m, n in entered), file=sys.stderr)
    for m, f in stops:
        print(f"  {m}:{f}", file=sys.stderr)


if __name__ == "__main__":
    main()
