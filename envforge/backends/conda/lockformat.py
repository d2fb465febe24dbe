"""conda-lock's lockfile format, written and read with conda-lock's own models and writer.

One platform (this machine's) per lock. Conda packages carry url, md5 and sha256; pip packages the
locked file's url and sha256. conda-lock's offline traps are avoided: its PyPI-to-conda name
mapping (fetched from GitHub by default) is replaced by an empty local mapping, and nothing here
asks PyPI's JSON API (the pip section is resolved by uv, see pip_lock.py). conda-lock is slow to
import (a second or more), so it is imported only when a lock is written or read.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

from envforge.backends.conda.channels import public_url
from envforge.backends.conda.pip_lock import PipPackage
from envforge.backends.conda.records import CondaPackage, dependency_map
from envforge.bounds.limits import read_bounded
from envforge.bounds.parsing import load_yaml
from envforge.errors import ModelDirError
from envforge.spec import EnvSpec
from envforge.version import __version__

_PIP_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_PIP_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+!_-]*")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_URL = re.compile(r"(https?|file)://\S+")
INSTALLED_CATEGORIES = {"main", "dev"}  # what `conda-lock install` installs by default
READ_REMEDY = "Pass a lock written by conda-lock or `envforge lock URI --backend conda -o conda-lock.yml`."


def build_lockfile(conda: list[CondaPackage], pip: list[PipPackage], *, platform: str, channels: list[str],
                   spec: EnvSpec, specs: list[str], sources: list[str]) -> Any:
    """conda-lock's Lockfile model for these packages (credentials stripped from every URL)."""
    from conda_lock.lockfile.v2prelim.models import DependencySource, HashModel, LockedDependency, Lockfile, LockMeta, TimeMeta

    packages = [
        LockedDependency(name=p.name, version=p.version, manager="conda", platform=platform, build=p.build,
                         dependencies=dependency_map(p.depends), url=public_url(p.url),
                         hash=HashModel(md5=p.md5, sha256=p.sha256), categories={"main"})
        for p in conda
    ] + [
        LockedDependency(name=p.name, version=p.version, manager="pip", platform=platform, dependencies={},
                         url=p.url, hash=HashModel(sha256=p.sha256), categories={"main"},
                         source=DependencySource(type="url", url=p.url) if p.direct else None)
        for p in pip
    ]
    public = [public_url(c) for c in channels]
    meta = LockMeta(content_hash=content_hashes(spec, specs, public, platform), channels=public, platforms=[platform],
                    sources=sources, time_metadata=TimeMeta.create(), custom_metadata={"created_by": f"envforge {__version__}"})
    return Lockfile(package=packages, metadata=meta)


def preload() -> None:
    """Import the parts of conda-lock used here (a second or more), e.g. in a thread while other work runs."""
    import conda_lock.content_hash  # noqa: F401
    import conda_lock.lockfile  # noqa: F401
    import conda_lock.src_parser.environment_yaml  # noqa: F401
    import conda_lock.virtual_package  # noqa: F401


def write(lockfile: Any, path: Path) -> None:
    from conda_lock.lockfile import write_conda_lock_file

    path.parent.mkdir(parents=True, exist_ok=True)
    write_conda_lock_file(lockfile, path, metadata_choices=None, include_help_text=True)


def read(path: Path, platform: str) -> tuple[list[CondaPackage], list[PipPackage], list[str]]:
    """The packages a lock holds for `platform` (main and dev categories, as conda-lock installs) and its channels.

    Read as plain YAML (conda-lock's on-disk format, version 1 or 2), so a build can start at once;
    `validate` runs conda-lock's own parser (slow to import), in a thread while the build goes on."""
    try:  # bounded: a lock stored with the model is untrusted input (issue 17)
        data = load_yaml(read_bounded(path, "conda-lock", where=f"the conda lock {path}", remedy=READ_REMEDY), str(path))
    except yaml.YAMLError as exc:
        raise ModelDirError(f"Cannot read the conda lock {path}: {str(exc).splitlines()[0]}.", READ_REMEDY) from None
    if not (isinstance(data, dict) and data.get("version") in (1, 2) and isinstance(data.get("package"), list)
            and isinstance(data.get("metadata"), dict)):
        raise ModelDirError(f"{path} is not a conda-lock file (no `version: 1`, `metadata` and `package`).", READ_REMEDY)
    try:
        mine = [p for p in data["package"] if p["platform"] == platform and _categories(p) & INSTALLED_CATEGORIES]
        conda = [_conda(p) for p in mine if p["manager"] == "conda" and not str(p["name"]).startswith("__")]
        pip = [_pip(p, path) for p in mine if p["manager"] == "pip"]
        channels = [str(c["url"]) if isinstance(c, dict) else str(c) for c in data["metadata"].get("channels") or []]
    except (KeyError, TypeError, AttributeError) as exc:
        raise ModelDirError(f"{path} is not a valid conda-lock file (a package entry lacks {exc}).", READ_REMEDY) from None
    if not mine:
        raise ModelDirError(f"The lock {path} has no packages for this platform ({platform}); it covers: "
                            f"{', '.join(map(str, data['metadata'].get('platforms') or [])) or 'nothing'}.", READ_REMEDY)
    return conda, pip, channels


def validate(path: Path) -> None:
    """conda-lock's own parser and models accept the lock (raises ModelDirError if not)."""
    from conda_lock.lockfile import parse_conda_lock_file

    try:
        parse_conda_lock_file(path)
    except Exception as exc:  # YAML, pydantic validation and conda-lock's own version errors
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelDirError(f"{path} is not a valid conda-lock file: {first}.", READ_REMEDY) from None


def _categories(entry: dict[str, Any]) -> set[str]:
    return set(entry["categories"]) if "categories" in entry else {str(entry.get("category", "main"))}


def _conda(entry: dict[str, Any]) -> CondaPackage:
    url = str(entry["url"])
    subdir = url.rstrip("/").rsplit("/", 2)[-2] if url.count("/") >= 2 else ""
    depends = tuple(f"{name} {spec or ''}".strip() for name, spec in (entry.get("dependencies") or {}).items())
    return CondaPackage(name=str(entry["name"]), version=str(entry["version"]),
                        build=str(entry.get("build") or _build_from_file(url.rsplit("/", 1)[-1])), url=url,
                        md5=str(entry["hash"].get("md5") or ""), sha256=entry["hash"].get("sha256") or None,
                        subdir=subdir, depends=depends)


def _pip(entry: dict[str, Any], path: Path) -> PipPackage:
    """A pip entry, checked: it becomes a line of a requirements file, so nothing in it may read as an option."""
    name, version, sha256 = str(entry["name"]), str(entry["version"]), entry["hash"].get("sha256")
    if not sha256:
        raise ModelDirError(f"The lock {path} has no sha256 for the pip package {name} {version}, so it cannot be "
                            "installed with hash checking.", READ_REMEDY)
    source = entry.get("source") or {}
    direct = isinstance(source, dict) and source.get("type") == "url"
    url = str(source["url"] if direct else entry["url"])
    checks = ((_PIP_NAME, name), (_PIP_VERSION, version), (_SHA256, sha256), (_URL, url))
    bad = next((value for pattern, value in checks if not pattern.fullmatch(str(value))), None)
    if bad is not None:
        raise ModelDirError(f"The lock {path} has a malformed pip entry ({name!r}: {bad!r}).", READ_REMEDY)
    return PipPackage(name, version, url, str(sha256), direct=direct)


def _build_from_file(file_name: str) -> str:
    for suffix in (".conda", ".tar.bz2"):
        file_name = file_name.removesuffix(suffix)
    return file_name.rsplit("-", 1)[-1]


def content_hashes(spec: EnvSpec, specs: list[str], channels: list[str], platform: str) -> dict[str, str]:
    """conda-lock's content hash of the solved conda specs and the pip section (what `conda-lock --check-input-hash` compares)."""
    from conda_lock.content_hash import compute_content_hashes
    from conda_lock.src_parser.environment_yaml import parse_environment_file
    from conda_lock.virtual_package import default_virtual_package_repodata

    pip = [r for r in spec.requirements if not r.startswith("./")]  # the model's own files are not locked
    env_yaml = {"channels": channels, "dependencies": [*specs, {"pip": pip}]}
    with tempfile.TemporaryDirectory(prefix="envforge-conda-lock-") as tmp:
        mapping = Path(tmp) / "pypi-to-conda-mapping.json"
        mapping.write_text("{}")  # a local, empty mapping: conda-lock would otherwise download one from GitHub
        source = Path(tmp) / "environment.yml"
        source.write_text(yaml.safe_dump(env_yaml, sort_keys=False))
        lock_spec = parse_environment_file(source, [platform], mapping_url=str(mapping))
        return compute_content_hashes(lock_spec, default_virtual_package_repodata())
