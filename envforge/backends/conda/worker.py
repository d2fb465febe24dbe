"""The child process that drives py-rattler: solve (or find the locked packages), then link them into a prefix.

Run as `python worker.py REQUEST.json RESULT.json` by envforge.backends.conda.link, never imported
by envforge's own process: py-rattler's native runtime crashes now and then while the interpreter
shuts down (measured here: about one exit in eight, after all work is done), so the work happens
here, the result is written and flushed, and the process ends with os._exit, skipping that shutdown.
The request holds the channel URLs to use (credentials included), so it lives in a private temp dir.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `envforge` importable from this checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from envforge.backends.conda.channels import describe  # noqa: E402
from envforge.backends.conda.records import CondaPackage, from_rattler  # noqa: E402
from envforge.backends.conda.solve import platform, run_async, solve, translate  # noqa: E402
from envforge.errors import EnvBuildError, EnvforgeError  # noqa: E402

LOOKUP_REMEDY = ("Pass --channel URL for a channel (or mirror) that still holds these exact files, or write a new lock "
                 "with `envforge lock URI --backend conda -o conda-lock.yml`.")


def main(request_path: str, result_path: str) -> int:
    request = json.loads(Path(request_path).read_text())
    try:
        packages = work(request)
        result: dict[str, Any] = {"packages": [p.to_json() for p in packages]}
    except EnvforgeError as exc:
        result = {"error": {"kind": type(exc).__name__, "message": exc.message, "remedy": exc.remedy}}
    except Exception as exc:  # py-rattler's own errors: a channel, a download, a link failed
        error = translate(exc, request["channels"], request.get("specs") or [])
        result = {"error": {"kind": "EnvBuildError", "message": error.message, "remedy": error.remedy}}
    Path(result_path).write_text(json.dumps(result))
    return 0


def work(request: dict[str, Any]) -> list[CondaPackage]:
    import rattler

    channels, timeout = list(request["channels"]), float(request["timeout"])
    if request["mode"] == "solve":
        records = solve(channels, list(request["specs"]), timeout=timeout, exclude_newer=request.get("exclude_newer"),
                        require_timestamps=bool(request.get("require_timestamps", True)))
    else:
        records = lookup(channels, [CondaPackage.from_json(p) for p in request["packages"]])
    if request.get("prefix"):  # link scripts stay off: they are arbitrary code from the package
        run_async(rattler.install(records, target_prefix=request["prefix"], show_progress=False, execute_link_scripts=False))
    return [from_rattler(r) for r in records]


def lookup(channels: list[str], wanted: list[CondaPackage]) -> list[Any]:
    """The channels' own records of exactly these files: same file name and md5/sha256 (a lock), or the same
    name, version and build when no file is named (another solver's answer)."""
    import rattler

    gateway = rattler.Gateway(show_progress=False)
    groups = run_async(gateway.query(channels, [platform(), "noarch"], sorted({w.name for w in wanted}), recursive=False))
    known: dict[object, list[Any]] = {}
    for group in groups:  # channels in priority order
        for record in group:
            package = from_rattler(record)
            known.setdefault(package.file_name, []).append((record, package))
            known.setdefault(package.identity, []).append((record, package))
    found, missing, different = [], [], []
    for want in wanted:
        candidates = known.get(want.file_name if want.url else want.identity, [])
        same = [record for record, have in candidates if _same(have, want)]
        if same:
            found.append(same[0])
        else:
            (different if candidates else missing).append(want)
    if different:
        raise EnvBuildError(
            f"The channel(s) {describe(channels)} serve different files than the lock names (their hashes differ) for: "
            + ", ".join(f"{w.file_name} (locked md5 {w.md5})" for w in different[:8]) + ". Nothing was installed.",
            "A channel or mirror that rebuilt a package under the same file name cannot give the locked environment. "
            + LOOKUP_REMEDY)
    if missing:
        raise EnvBuildError(
            f"The channel(s) {describe(channels)} do not hold {len(missing)} of the locked package file(s): "
            + ", ".join(f"{w.name} {w.version} {w.build}" + (f" ({w.file_name})" if w.url else "") for w in missing[:8])
            + (" ..." if len(missing) > 8 else "") + ".", LOOKUP_REMEDY)
    return found


def _same(have: CondaPackage, want: CondaPackage) -> bool:
    if want.sha256 and have.sha256:
        return want.sha256 == have.sha256
    if want.md5:
        return want.md5 == have.md5
    return have.identity == want.identity


if __name__ == "__main__":
    code = main(sys.argv[1], sys.argv[2])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # see the module docstring: never run py-rattler's shutdown
