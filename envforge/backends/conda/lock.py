"""Locking a conda environment: solve the conda part, link it, resolve the pip section against its Python.

`solve_into` is the solve path of a build (the conda part is linked into the env being built);
`write_lock` is `envforge lock --backend conda` (it links into a scratch prefix, because the pip
section is resolved against the env's own interpreter, then writes the conda-lock file).
"""

from __future__ import annotations

import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from envforge.backends.base import BuildOptions, Log
from envforge.backends.conda import lockformat, pip_lock
from envforge.backends.conda.channels import describe, effective
from envforge.backends.conda.link import link_exact, solve_and_link
from envforge.backends.conda.pip_lock import PipPackage
from envforge.backends.conda.records import CondaPackage
from envforge.backends.conda.solve import platform
from envforge.errors import EnvBuildError
from envforge.spec import EnvSpec

_NAME = re.compile(r"^(?:[^:\s]+::)?(?P<name>[A-Za-z0-9_.\-]+)")


@dataclass(frozen=True)
class Locked:
    conda: list[CondaPackage]
    pip: list[PipPackage]
    channels: list[str]
    specs: list[str]          # the conda specs that were solved (empty when installed from a lock)

    @property
    def python_version(self) -> str:
        found = [p.version for p in self.conda if p.name == "python"]
        if not found:
            raise EnvBuildError(f"The conda environment has no `python` package (channels: {describe(self.channels)}).",
                                "Add python to conda.yaml's dependencies, or pass --channel URL for a channel that has it.")
        return found[0]


def conda_specs(spec: EnvSpec) -> list[str]:
    """conda.yaml's conda specs, with the model's Python added when conda.yaml does not name python."""
    specs = list(spec.conda_dependencies)
    if not any(_spec_name(s) == "python" for s in specs):
        specs.insert(0, f"python={spec.python}" if spec.python else "python")
    return specs


def solve_into(spec: EnvSpec, model_dir: Path, prefix: Path, options: BuildOptions, log: Log) -> Locked:
    """Solve the conda part (py-rattler, or --conda-exe), link it into `prefix`, lock the pip section against it."""
    channels, specs = offline_check(effective(spec.conda_channels), options), conda_specs(spec)
    if options.conda_exe:
        from envforge.backends.conda import external

        log(f"solving {len(specs)} conda spec(s) with {options.conda_exe} from {describe(channels)}")
        named = external.solve(options.conda_exe, channels, specs, timeout=options.timeout)
        conda = link_exact(channels, named, prefix, timeout=options.timeout)
    else:
        log(f"solving {len(specs)} conda spec(s) with py-rattler from {describe(channels)}")
        conda = solve_and_link(channels, specs, prefix, timeout=options.timeout, exclude_newer=spec.resolved_as_of,
                               require_timestamps=options.resolve is not None)
    locked = Locked(conda, [], channels, specs)
    log(f"linked {len(conda)} conda package(s); resolving the pip section for Python {locked.python_version}")
    pip = pip_lock.resolve(spec, model_dir, prefix / "bin" / "python", locked.python_version, options)
    return Locked(conda, pip, channels, specs)


def install_lock(path: Path, spec: EnvSpec, prefix: Path, options: BuildOptions, log: Log) -> Locked:
    """Link exactly the conda packages of a conda-lock file (no solve); its pip part is installed by the caller."""
    conda, pip, lock_channels = lockformat.read(path, platform())
    channels = offline_check(effective(options.channels or tuple(lock_channels)), options)
    log(f"installing the lock {path.name}: {len(conda)} conda and {len(pip)} pip package(s), from {describe(channels)}")
    linked = link_exact(channels, conda, prefix, timeout=options.timeout)
    return Locked(linked, pip, channels, [])


def save(locked: Locked, spec: EnvSpec, path: Path) -> None:
    """Write `locked` as a conda-lock file for this platform."""
    content = lockformat.build_lockfile(locked.conda, locked.pip, platform=platform(), channels=locked.channels,
                                      spec=spec, specs=locked.specs or conda_specs(spec), sources=["conda.yaml"])
    lockformat.write(content, path)


def write_lock(spec: EnvSpec, model_dir: Path, output: Path, options: BuildOptions, log: Log) -> Locked:
    """`envforge lock --backend conda`: solve conda.yaml and write its conda-lock file to `output` (no env is built)."""
    with ThreadPoolExecutor(max_workers=1) as pool:  # import conda-lock (slow) while the solvers run in child processes
        loading = pool.submit(lockformat.preload)
        with tempfile.TemporaryDirectory(prefix="envforge-conda-lock-") as tmp:
            locked = solve_into(spec, model_dir, Path(tmp) / "prefix", options, log)
        loading.result()
    save(locked, spec, output)
    return locked


def offline_check(channels: list[str], options: BuildOptions) -> list[str]:
    """--offline allows only local channels (file://): a remote one would be a network access."""
    remote = [c for c in channels if not c.startswith("file:")]
    if options.offline and remote:
        raise EnvBuildError(f"--offline is set, but the conda channel(s) {describe(remote)} are remote.",
                            "Pass --channel file:///path/to/a/local/copy of each channel, or run without --offline.")
    return channels


def _spec_name(spec: str) -> str:
    match = _NAME.match(spec.strip())
    return match.group("name").lower() if match else ""
