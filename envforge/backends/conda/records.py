"""One conda package as envforge passes it around: from py-rattler, to and from a conda-lock file."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class CondaPackage:
    name: str
    version: str
    build: str
    url: str                    # where it was (or is to be) downloaded from; may carry credentials
    md5: str
    sha256: str | None = None
    subdir: str = ""
    depends: tuple[str, ...] = field(default=())

    @property
    def file_name(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]

    @property
    def identity(self) -> tuple[str, str, str]:
        return (self.name, self.version, self.build)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "depends": list(self.depends)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CondaPackage:
        return cls(name=str(data["name"]), version=str(data["version"]), build=str(data["build"]), url=str(data["url"]),
                   md5=str(data["md5"]), sha256=data.get("sha256") or None, subdir=str(data.get("subdir") or ""),
                   depends=tuple(str(d) for d in data.get("depends") or ()))


def from_rattler(record: Any) -> CondaPackage:
    """A py-rattler RepoDataRecord (or PrefixRecord) as a CondaPackage."""
    return CondaPackage(
        name=record.name.normalized, version=str(record.version), build=str(record.build), url=str(record.url),
        md5=record.md5.hex() if record.md5 else "", sha256=record.sha256.hex() if record.sha256 else None,
        subdir=str(record.subdir), depends=tuple(str(d) for d in record.depends),
    )


def dependency_map(depends: tuple[str, ...]) -> dict[str, str]:
    """["python >=3.11,<3.12", "libzlib"] -> {"python": ">=3.11,<3.12", "libzlib": ""} (conda-lock's form)."""
    out: dict[str, str] = {}
    for dep in depends:
        name, _, rest = dep.strip().partition(" ")
        if name:
            out[name] = rest.strip()
    return out


def installed(prefix: Any) -> list[CondaPackage]:
    """The packages recorded in an env's conda-meta/ (what is really linked there), sorted by name."""
    import json
    from pathlib import Path

    found = []
    for path in sorted(Path(prefix, "conda-meta").glob("*.json")):
        data = json.loads(path.read_text())
        found.append(CondaPackage(
            name=data["name"], version=data["version"], build=data["build"], url=data.get("url") or "",
            md5=data.get("md5") or "", sha256=data.get("sha256") or None, subdir=data.get("subdir") or "",
            depends=tuple(data.get("depends") or ()),
        ))
    return sorted(found, key=lambda p: p.name)
