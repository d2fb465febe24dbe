"""The pip section of conda.yaml: resolved against the conda env's own Python, locked with hashes, installed.

`uv pip compile --format pylock.toml --python <env python>` resolves for exactly that interpreter and
platform and lists every candidate file with its sha256; envforge keeps one file per package (the
wheel the interpreter prefers, else the sdist), as conda-lock's format holds one url and hash.
Python packages the conda part already installed (pip itself, or numpy from conda-forge) are held at
their installed version and left out of the lock, as conda-lock does. Installing is
`uv pip install --require-hashes --no-deps`: every file must match its locked hash.
"""

from __future__ import annotations

import functools
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envforge.backends.base import BuildOptions, check
from envforge.backends.conda.channels import public_url
from envforge.backends.index import index_args, install_remedy, installer_env
from envforge.backends.venv import requirement_lines
from envforge.errors import EnvBuildError
from envforge.processes.proc import run
from envforge.spec import EnvSpec

RESOLVE_REMEDY = ("Check the pip section of conda.yaml: every pinned version must exist on the package index for this Python, "
                  "and must agree with the Python packages the conda dependencies install (named above when they clash).")
INSTALL_REMEDY = ("A file that does not match its locked sha256 was served (or the index no longer has it): the lock cannot be "
                  "installed as it is. Check --index-url/--extra-index-url, or write a new lock with `envforge lock`.")


@dataclass(frozen=True)
class PipPackage:
    name: str
    version: str
    url: str          # the locked file
    sha256: str
    direct: bool = False  # a URL requirement (name @ url), not a release from an index

    def requirement(self) -> str:
        head = f"{self.name} @ {self.url}" if self.direct else f"{self.name}=={self.version}"
        return f"{head} --hash=sha256:{self.sha256}"


def conda_python_packages(prefix: Path) -> dict[str, str]:
    """Python distributions the conda packages installed: canonical name -> version."""
    from importlib.metadata import distributions

    from packaging.utils import canonicalize_name

    sites = list(prefix.glob("lib/python3*/site-packages"))
    found: dict[str, str] = {}
    for dist in distributions(path=[str(s) for s in sites]):
        name = dist.metadata["Name"] if dist.metadata else None
        if name:
            found[str(canonicalize_name(name))] = dist.version
    return found


def resolve(spec: EnvSpec, model_dir: Path, python: Path, python_version: str, options: BuildOptions) -> list[PipPackage]:
    """Lock the pip section for the env whose interpreter is `python` (its conda part already linked)."""
    from envforge.backends.tools import uv_bin

    wanted = [r for r in spec.requirements if not r.startswith("./")]
    if not wanted:
        return []
    held = conda_python_packages(python.parent.parent)
    with tempfile.TemporaryDirectory(prefix="envforge-conda-pip-") as tmp:
        reqs, constraints = Path(tmp) / "requirements.in", Path(tmp) / "constraints.txt"
        reqs.write_text("\n".join(wanted) + "\n")
        pins = requirement_lines(spec, model_dir, spec.constraints) + [f"{name}=={version}" for name, version in held.items()]
        constraints.write_text("\n".join(pins) + "\n")
        argv = [uv_bin(), "pip", "compile", str(reqs), "-c", str(constraints), "--format", "pylock.toml", "--no-header",
                "--quiet", "--python", str(python), *index_args(spec, options, "uv", model_dir=model_dir)]
        argv += [arg for name in held for arg in ("--no-emit-package", name)]
        env = installer_env("uv", options, {"UV_PYTHON_DOWNLOADS": "never"})
        from envforge.backends.cutoff import Cutoff

        outcome = Cutoff(spec, options).run(argv, timeout=options.timeout, env=env, cwd=tmp, remedy=install_remedy(options, RESOLVE_REMEDY),
                                            what="Resolving the pip section of conda.yaml with uv")
    return [_pick(package, python_version) for package in _toml(outcome.stdout).get("packages", [])]


def install(packages: list[PipPackage], spec: EnvSpec, model_dir: Path, python: Path, options: BuildOptions) -> None:
    """Install exactly the locked files (hash-checked, no resolution), then the model's own local files."""
    from envforge.backends.tools import uv_bin

    base = [uv_bin(), "pip", "install", "--python", str(python), *index_args(spec, options, "uv", model_dir=model_dir)]
    env = installer_env("uv", options, {"UV_PYTHON_DOWNLOADS": "never"})
    remedy = install_remedy(options, INSTALL_REMEDY)
    if packages:
        with tempfile.TemporaryDirectory(prefix="envforge-conda-pip-") as tmp:
            locked = Path(tmp) / "locked.txt"
            locked.write_text("\n".join(p.requirement() for p in packages) + "\n")
            check(run([*base, "--require-hashes", "--no-deps", "-r", str(locked)], timeout=options.timeout, env=env),
                  "Installing the locked pip packages with uv (hash-checked)", remedy)
    local = requirement_lines(spec, model_dir, tuple(r for r in spec.requirements if r.startswith("./")) + spec.code_wheels)
    if local:  # the model's own wheels: pinned by their content hash in the env's key
        check(run([*base, *local], timeout=options.timeout, env=env), "Installing the model's own wheels with uv", remedy)


def _toml(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    return tomllib.loads(text)


def _pick(package: dict[str, Any], python_version: str) -> PipPackage:
    name, version = str(package["name"]), str(package.get("version") or "")
    wheels = package.get("wheels") or []
    if wheels:
        best = min(wheels, key=lambda w: _rank(str(w.get("name") or w["url"].rsplit("/", 1)[-1]), python_version))
        return PipPackage(name, version, public_url(best["url"]), best["hashes"]["sha256"])
    for kind in ("sdist", "archive"):
        entry = package.get(kind)
        if entry and entry.get("url") and (entry.get("hashes") or {}).get("sha256"):
            return PipPackage(name, version, public_url(entry["url"]), entry["hashes"]["sha256"], direct=kind == "archive")
    raise EnvBuildError(f"The pip requirement {name} resolved to a source that cannot be locked with a hash "
                        "(a local directory or a version-control checkout).",
                        "Use a released version or a wheel URL in conda.yaml's pip section, or the uv backend.")


@functools.lru_cache(maxsize=4)
def _priorities(major: int, minor: int) -> dict[Any, int]:
    """This machine's wheel tags for CPython major.minor, most preferred first (as installers rank them)."""
    from packaging import tags

    order = [*tags.cpython_tags(python_version=(major, minor)), *tags.compatible_tags(python_version=(major, minor))]
    return {tag: i for i, tag in enumerate(order)}


def _rank(filename: str, python_version: str) -> int:
    """How much the interpreter prefers this wheel: lower is better."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    major, minor = (int(p) for p in python_version.split(".")[:2])
    priority = _priorities(major, minor)
    try:
        wheel_tags = parse_wheel_filename(filename)[3]
    except InvalidWheelFilename:
        return len(priority) + 1
    return min((priority.get(t, len(priority)) for t in wheel_tags), default=len(priority))
