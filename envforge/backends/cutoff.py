"""One build's as-of cutoff for uv (`--exclude-newer`), and what to do when the index cannot honour it.

uv drops every index file whose upload time it does not know once --exclude-newer is set (measured
with uv 0.13: a PEP 503 HTML index serves none, so nothing resolves: "`six-1.16.0-py2.py3-none-any.whl`
is missing an upload date"). Local files (a requirement path, --find-links directories) are not
filtered. When the user asked for the date (--resolve logged/DATE), such an index is an error with
the remedy `--resolve latest`; when the date is only envforge's default, the install is repeated
against today's index with a warning, and the env records that it was resolved latest.
uv's own hint ("`numpy` was filtered by `exclude-newer` ... The requested version, v2.0.0, was published
at ...") turns a pin that did not exist yet into an error naming the package, the pin and the date.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from envforge.backends.base import BuildOptions, check
from envforge.errors import EnvBuildError
from envforge.processes.proc import Outcome, run
from envforge.redact import redact
from envforge.spec import EnvSpec

_MISSING = re.compile(r"`(?P<file>[^`]+)` is missing an upload date")
_FILTERED = re.compile(r"hint: `(?P<name>[^`]+)` was filtered by `exclude-newer`[^\n]*")
_LATEST_REMEDY = "Pass `--resolve latest` to resolve against today's index instead (the result then says so)."


class Cutoff:
    """The --exclude-newer moment for one build; `run` installs or compiles with it."""

    def __init__(self, spec: EnvSpec, options: BuildOptions) -> None:
        self.moment = spec.resolved_as_of
        self.explicit = options.resolve is not None
        self.notes: list[str] = []

    def args(self) -> list[str]:
        return ["--exclude-newer", self.moment] if self.moment else []

    def note_left_out(self, missing: list[str]) -> None:
        """uv resolved, leaving out `missing` files (no upload time): the env says so."""
        self.notes.append(f"the package index serves no upload time for {_files(missing)}: uv left "
                          f"{'it' if len(missing) == 1 else 'them'} out of the resolution as of {self.moment}")

    def run(self, argv: list[str], *, timeout: float, env: Mapping[str, str], what: str, remedy: str,
            cwd: str | None = None) -> Outcome:
        """Run a uv command (argv without the cutoff), with it; check() the outcome like every install."""
        outcome = run([*argv, *self.args()], timeout=timeout, env=env, cwd=cwd)
        output = outcome.stdout + "\n" + outcome.stderr
        missing = missing_upload_times(output)
        if self.moment and missing and not outcome.ok:
            if self.explicit:
                raise EnvBuildError(redact(
                    f"{what} failed: the package index serves no upload times (for {_files(missing)}), so uv cannot "
                    f"resolve the requirements as of {self.moment}: with a cutoff it leaves out every file whose upload "
                    "time it does not know (a plain HTML index, e.g. a simple `python -m http.server` or an old mirror, has none)."),
                    _LATEST_REMEDY)
            self.notes.append(f"the package index serves no upload times (for {_files(missing)}), so the requirements "
                              f"could not be resolved as of {self.moment} (the default, --resolve logged): they were resolved "
                              "against today's index instead; pass --resolve latest to say so, or use an index with upload times")
            self.moment = None
            outcome = run(argv, timeout=timeout, env=env, cwd=cwd)
        elif missing:
            self.note_left_out(missing)
        if not outcome.ok and self.moment:
            hint = _FILTERED.search(output)
            if hint:
                raise EnvBuildError(redact(
                    f"{what} failed: no release of `{hint.group('name')}` that the requirements allow had been uploaded by "
                    f"{self.moment}, the moment they are resolved as of. uv says: {hint.group(0)[6:].strip()}"),
                    "The pin (or the package) is newer than that date: resolve as of a later date (--resolve YYYY-MM-DD, or "
                    "--resolve latest), or fix the pin in the model's requirements.")
        return check(outcome, what, remedy)


def missing_upload_times(output: str) -> list[str]:
    """The files uv's output says it left out for want of an upload time (with a cutoff set)."""
    return sorted(set(_MISSING.findall(output)))


def exact_pins(compiled: str) -> list[str]:
    """`name==version` for each line of `uv pip compile` output that pins a release of the index (not the model's
    own files, `name @ file://...`)."""
    pins = []
    for line in compiled.splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line and " @ " not in line and not line.startswith("-"):
            name, version = line.split(";", 1)[0].split("==", 1)
            pins.append(f"{name.split('[', 1)[0].strip()}=={version.strip()}")
    return pins


def _files(names: list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def compile_pins(cutoff: Cutoff, spec: EnvSpec, model_dir: Path, python: str, reqs: Path, constraints: Path | None,
                 options: BuildOptions, what: str, remedy: str) -> list[str]:
    """`name==version` for the whole set uv resolves as of the cutoff for the env's interpreter: what pip
    (which has no such option before 26.0, and a model may pin an old one) then installs as constraints.
    Lines for the model's own files (`name @ file://...`) are left to the requirements themselves."""
    from envforge.backends.index import index_args, installer_env
    from envforge.backends.tools import uv_bin

    argv = [uv_bin(), "pip", "compile", str(reqs), *(["-c", str(constraints)] if constraints else []), "--python", python,
            "--no-header", "--no-annotate", "--quiet", "--no-strip-extras", *index_args(spec, options, "uv", model_dir=model_dir)]
    env = installer_env("uv", options, {"UV_PYTHON_DOWNLOADS": "never"})
    return exact_pins(cutoff.run(argv, timeout=options.timeout, env=env, what=what, remedy=remedy).stdout)
