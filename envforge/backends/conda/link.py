"""Solve or look up conda packages and link them into a prefix, through the py-rattler worker process."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from envforge.backends.conda import worker
from envforge.backends.conda.channels import scrub, usable_url
from envforge.backends.conda.records import CondaPackage
from envforge.errors import EnvBuildError, EnvforgeError, ModelDirError, UsageError
from envforge.processes.proc import child_env, run

_ERRORS: dict[str, type[EnvforgeError]] = {"EnvBuildError": EnvBuildError, "ModelDirError": ModelDirError, "UsageError": UsageError}


def solve_and_link(channels: list[str], specs: list[str], prefix: Path | None, *, timeout: float,
                   exclude_newer: str | None = None, require_timestamps: bool = True) -> list[CondaPackage]:
    """Solve `specs` from `channels` with py-rattler; link the result into `prefix` unless it is None.
    exclude_newer: an RFC 3339 moment (--resolve); records without a timestamp are left out when
    require_timestamps (the user asked for the date), kept otherwise."""
    return _run({"mode": "solve", "channels": [usable_url(c) for c in channels], "specs": specs,
                 "prefix": str(prefix) if prefix else None, "timeout": timeout,
                 "exclude_newer": exclude_newer, "require_timestamps": require_timestamps}, timeout)


def link_exact(channels: list[str], packages: list[CondaPackage], prefix: Path, *, timeout: float) -> list[CondaPackage]:
    """Link exactly these package files (found by file name and hash in the channels' repodata) into `prefix`."""
    return _run({"mode": "locked", "channels": [usable_url(c) for c in channels], "packages": [p.to_json() for p in packages],
                 "prefix": str(prefix), "timeout": timeout}, timeout)


def _run(request: dict[str, object], timeout: float) -> list[CondaPackage]:
    with tempfile.TemporaryDirectory(prefix="envforge-conda-") as tmp:
        request_path, result_path = Path(tmp) / "request.json", Path(tmp) / "result.json"
        request_path.write_text(json.dumps(request))
        outcome = run([sys.executable, str(Path(worker.__file__).resolve()), str(request_path), str(result_path)],
                      timeout=timeout + 60, env=child_env(prefixes=("RATTLER_",)))
        try:
            result = json.loads(result_path.read_text())
        except (OSError, ValueError):
            raise EnvBuildError(f"py-rattler's worker process failed: {scrub(outcome.describe())}.\n{scrub(outcome.tail(20))}\n",
                                "If it timed out, raise --build-timeout; otherwise this is a bug in envforge: please report it.") from None
    if "error" in result:
        error = result["error"]
        raise _ERRORS.get(error.get("kind"), EnvBuildError)(error["message"], error.get("remedy", ""))
    return [CondaPackage.from_json(p) for p in result["packages"]]
