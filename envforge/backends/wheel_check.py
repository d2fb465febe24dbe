"""Would any requirement build from source? (issue 34, point 3)

An old pin (scikit-learn 0.23.2 on Python 3.9) has no wheel for the chosen interpreter, and building it from
source runs past any reasonable time. A dry resolve (`uv pip compile --only-binary :all:` for the env's
Python, with the build's own index options and --resolve cutoff) says so in seconds: the build stops with
exit 3 naming the pins, the Pythons that do have wheels for all of them, and the ways forward. The uv
backend's install itself runs wheels-only (`install`): that resolve is the check, and only when it
refuses a source build does the dry resolve run, to explain. The virtualenv backend's pip has
no such option: it runs the dry resolve first (check_venv). Source builds are refused by default, because
the verdict should come within a minute whatever the model; `--allow-source-builds` goes ahead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from envforge.backends import pure_sdists
from envforge.errors import EnvBuildError
from envforge.processes.proc import carry, run

_NO_WHEEL = re.compile(r"([A-Za-z0-9][A-Za-z0-9._\-]*)(?:==|\s+)([0-9][^\s,]*) has no (?:usable )?wheels?")
# uv's words when a source distribution exists but --only-binary refuses it. Not "has no wheels with a matching Python
# version tag": that pin has no source to build (a wheel whose tags lie), and the install itself says so.
_SOURCE_WORDS = ("has no usable wheels", "building from source is disabled")
OTHER_PYTHONS = ("3.8", "3.9", "3.10", "3.11", "3.12")
WHEELS_ONLY = ("--only-binary", ":all:", *pure_sdists.dry_resolve_args())  # the uv install's (pure-Python sdists may still build)


def _compile(uv: str, reqs: Path, python: str, index: list[str], cutoff: list[str], env: Mapping[str, str], timeout: float):
    argv = [uv, "pip", "compile", str(reqs), "--only-binary", ":all:", *pure_sdists.dry_resolve_args(), "--python-version", python, "--no-header", "--quiet",
            "--python-platform", "linux", *index, *cutoff]
    return run(argv, timeout=timeout, env=env)


def no_wheels(output: str) -> list[str]:
    """The pins uv says have no wheel, `name==version`."""
    return sorted({f"{name}=={version}" for name, version in _NO_WHEEL.findall(output)})


def install(run_install: Callable[[list[str]], object], uv: str, reqs: Path, python: str, index: list[str], cutoff: list[str],
            env: Mapping[str, str], allow: bool) -> None:
    """The uv install, wheels-only: `run_install(extra_args)` runs it (raising EnvBuildError). That resolve is the
    check; only when it refused a source build does the dry resolve of the requirements run: it raises the
    explanation when they need one, and when only the constraints pin a source-only release (a runtime profile's,
    say), the install goes ahead without wheels-only, building it, as it did when the dry resolve ran first."""
    if allow:
        run_install([])
        return
    try:
        run_install(list(WHEELS_ONLY))
    except EnvBuildError as exc:
        if not any(word in str(exc) for word in _SOURCE_WORDS):
            raise
        check(uv, reqs, python, index, cutoff, env, allow)
        run_install([])


def check(uv: str, reqs: Path, python: str, index: list[str], cutoff: list[str], env: Mapping[str, str],
          allow: bool, timeout: float = 120.0) -> None:
    """Raise EnvBuildError when installing `reqs` on `python` (X.Y...) would build a requirement from source."""
    if allow:
        return
    minor = ".".join(python.split(".")[:2])
    outcome = _compile(uv, reqs, minor, index, cutoff, env, timeout)
    output = outcome.stdout + "\n" + outcome.stderr
    if outcome.ok or not any(word in output for word in _SOURCE_WORDS):
        return  # wheels for everything, or a failure the install itself reports better
    pins = no_wheels(output) or ["(uv named no single requirement: see its message)"]
    candidates = [v for v in OTHER_PYTHONS if v != minor]
    with ThreadPoolExecutor(max_workers=len(candidates)) as pool:  # one dry resolve per Python, at once
        resolved = [f.result() for f in [pool.submit(carry(lambda v=v: _compile(uv, reqs, v, index, cutoff, env, timeout).ok))
                                         for v in candidates]]  # in this build's install jail and fence
    others = [v for v, ok in zip(candidates, resolved, strict=True) if ok]
    where = f"Python {' or '.join(others)} has wheels for all of them: pass --python with a Python {others[0]} interpreter" if others else \
        "no Python from 3.8 to 3.12 has wheels for all of them"
    raise EnvBuildError(
        f"A dry resolve for Python {python} finds no wheel for {', '.join(f'`{p}`' for p in pins)}: installing would build from source, "
        "which can take longer than any verification should.",
        f"{where}; or --backend conda where a conda channel has builds; or --allow-source-builds to build from source anyway.")


def check_venv(spec, model_dir: Path, reqs: Path, python: str, options, cutoff_args: list[str]) -> None:
    """The same dry resolve before a backend that installs with pip (virtualenv): uv's index options for the build."""
    if options.allow_source_builds:
        return
    from envforge.backends.index import index_args, installer_env
    from envforge.backends.tools import uv_bin

    index = index_args(spec, options, "uv", model_dir=model_dir)
    check(uv_bin(), reqs, python, index, cutoff_args, installer_env("uv", options, {"UV_PYTHON_DOWNLOADS": "never"}), False)


def check_locked(packages: list, python: str, allow: bool) -> None:
    """The conda backend's pip section, once locked: a package locked to a source archive (no wheel for the
    env's Python) would build from source when installed; say so before, unless --allow-source-builds."""
    if allow:
        return
    sources = sorted(f"{p.name}=={p.version}" for p in packages if not str(p.url).split("?")[0].endswith(".whl"))
    if sources:
        raise EnvBuildError(
            f"The pip section of conda.yaml resolves, for the conda env's Python {python}, to source archives with no wheel: "
            f"{', '.join(sources)}: installing would build from source, which can take longer than any verification should.",
            "Pin versions that have wheels for that Python (or move them to conda.yaml's conda dependencies, where a "
            "channel has builds); or --allow-source-builds to build from source anyway.")
