"""A new env's requirements installed from uv's cache while the index confirms them (issue 33: a cold verify).

A uv build whose resolution has not settled (backends/settled.py: its moment passed less than MARGIN ago, or
--resolve latest) asks the index: uv revalidates each package's page before it installs anything, and the
model's runner (execution/head_start.py) can start only once the install ends. Yet uv's cache usually holds the
very answer the index is about to give: the pages and wheels of the last build of these requirements.

So, online, for a resolution that is the index's alone (no code_path wheels, no files of the model):
- `Confirmation` runs `uv pip compile` of the same requirements, constraints, index options, wheels-only
  arguments and cutoff, online, in a thread;
- meanwhile `try_offline` installs with `--offline`: what uv's cache resolves to, from the cached wheels;
- the env's runner may start in the new env while the compile runs (building/cached_envs.py, `Early`);
- the env gets its marker (becomes reusable) only once the compile's pins are exactly the installed set.
Anything else (the offline install failed: the cache lacks a page or a wheel; the index now resolves otherwise; the
compile failed or left files out for want of an upload time) and the env is wiped and built as before, online; a
runner started in it is killed first (it has read nothing of the model). The env a verify trusts is thus the
one the online install would have built; only the order changed. `--offline` builds never ask the index at all.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envforge.backends.base import BuildOptions
from envforge.backends.cutoff import exact_pins, missing_upload_times
from envforge.processes.proc import Deadline, Outcome, carry, run
from envforge.spec import EnvSpec


def applies(spec: EnvSpec, options: BuildOptions) -> bool:
    """An online build whose requirements resolve from the index alone."""
    return not options.offline and not spec.code_wheels and not spec.file_hashes and bool(spec.requirements or spec.build_dependencies)


def try_offline(argv: list[str], extra: list[str], cutoff_args: list[str], timeout: float, env: Mapping[str, str]) -> bool:
    """The install `argv` (`uv pip install --python PY ...`) with `extra` arguments, from uv's cache only; True when
    it installed. A failure is no error: the caller installs online instead."""
    return run([*argv[:5], *extra, *argv[5:], "--offline", *cutoff_args], timeout=timeout, env=env).ok


class Confirmation:
    """The index's resolution of a build's requirements, asked in a thread (`uv pip compile`, online), in the
    calling thread's install jail and build fence (proc.carry)."""

    def __init__(self, uv: str, python: str, reqs: Path, constraints: Path | None, args: list[str], timeout: float,
                 env: Mapping[str, str]) -> None:
        folder = Path(tempfile.mkdtemp(prefix="envforge-confirm-"))  # its own copies: the build removes its files when it ends
        # Removed when the compile ends, or at the latest when the process exits (atexit, also on envforge's quick
        # exit): a daemon thread still compiling then is stopped where it stands and never reaches its `finally`.
        self._remove = weakref.finalize(self, shutil.rmtree, folder, True)
        files = [shutil.copy(reqs, folder / "requirements.txt")]
        if constraints is not None:
            files += ["-c", shutil.copy(constraints, folder / "constraints.txt")]
        self._argv = [uv, "pip", "compile", *map(str, files), "--python", python, "--no-header", "--no-annotate", "--quiet", *args]
        self._deadline = Deadline(timeout)
        self._env = dict(env)
        self._outcome: list[Outcome | BaseException] = []
        self._thread = threading.Thread(target=carry(self._compile), name="envforge-confirm", daemon=True)
        self._thread.start()

    def _compile(self) -> None:
        try:
            self._outcome.append(run(self._argv, timeout=self._deadline, env=self._env))
        except BaseException as exc:  # noqa: BLE001 - said by wait() as the reason the install is not confirmed
            self._outcome.append(exc)
        finally:
            self._remove()

    def abandon(self) -> None:
        """Stop the compile now: the build installs online itself."""
        self._deadline.restart(0)
        self._thread.join()

    def wait(self, installed: Iterable[str]) -> str | None:
        """None when the index resolves the requirements to exactly `installed` (`uv pip freeze` lines), else why not."""
        self._thread.join()
        outcome = self._outcome[0] if self._outcome else RuntimeError("no answer")
        if isinstance(outcome, BaseException):
            return f"the index could not be asked ({outcome})"
        if not outcome.ok:
            return f"the index's resolution failed ({outcome.describe()})"
        if missing_upload_times(outcome.stdout + "\n" + outcome.stderr):
            return "the index serves no upload time for some files"
        return differs(exact_pins(outcome.stdout), installed)


def differs(resolved: Iterable[str], installed: Iterable[str]) -> str | None:
    """None when the `name==version` pins the index resolved are the installed set, else the first differences."""
    lines = [line.strip() for line in installed if line.strip()]
    if any("==" not in line or " @ " in line for line in lines):
        return "the installed set holds a requirement that is not a release of the index"
    have, want = _pins(lines), _pins(resolved)
    if have == want:
        return None
    changes = [f"{name} {have.get(name, 'absent')} -> {want.get(name, 'absent')}" for name in sorted(set(have) | set(want))
               if have.get(name) != want.get(name)]
    return "the index resolves otherwise now: " + ", ".join(changes[:3]) + (f" and {len(changes) - 3} more" if len(changes) > 3 else "")


def _pins(lines: Iterable[str]) -> dict[str, Version | str]:
    pins: dict[str, Version | str] = {}
    for line in lines:
        name, _, version = line.partition("==")
        key = canonicalize_name(name.split("[", 1)[0].strip())
        try:
            pins[key] = Version(version.strip())  # 1.0 == 1.0.0
        except InvalidVersion:
            pins[key] = version.strip()
    return pins
