"""The user's flat options (the CLI's flags, the API's keywords) split by who reads them.

`OptionParts(build, run, download)`: BuildOptions for the build (backends/build_options.py), RunOptions for
where the model runs (backends/run_options.py), DownloadOptions for fetching the model
(modeldir/download_options.py). `parts_from` is the one way flat keywords become the three; every field
name is its keyword's name, so `envforge.verify(uri, sandbox="off", download_timeout=60, python=...)` stays flat.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from envforge.backends.build_options import BuildOptions
from envforge.backends.run_options import RunOptions
from envforge.errors import UsageError
from envforge.modeldir.download_options import DownloadOptions

PART_TYPES = (BuildOptions, RunOptions, DownloadOptions)
KEYWORDS = frozenset(f.name for kind in PART_TYPES for f in fields(kind))


@dataclass(frozen=True)
class OptionParts:
    build: BuildOptions = field(default_factory=BuildOptions)
    run: RunOptions = field(default_factory=RunOptions)
    download: DownloadOptions = field(default_factory=DownloadOptions)

    def by_reader(self) -> dict[str, Any]:
        """{"build": ..., "run": ..., "download": ...}: the keywords of the commands that take the three parts."""
        return {"build": self.build, "run": self.run, "download": self.download}

    def keywords(self) -> dict[str, Any]:
        """The flat keywords again (the Python API's form): parts_from(p.keywords()) == p."""
        return {f.name: getattr(part, f.name) for part in (self.build, self.run, self.download) for f in fields(part)}


def parts_from(values: dict[str, Any]) -> OptionParts:
    """Flat keywords -> OptionParts; a keyword none of the three has is the caller's to refuse (split_options)."""
    def of(kind: type) -> dict[str, Any]:
        return {f.name: values[f.name] for f in fields(kind) if f.name in values}

    return OptionParts(BuildOptions(**of(BuildOptions)), RunOptions(**of(RunOptions)), DownloadOptions(**of(DownloadOptions)))


def split_options(options: dict[str, Any], own: type) -> tuple[OptionParts, dict[str, Any]]:
    """API keywords -> (OptionParts, the command's own options); an unknown keyword is a UsageError."""
    unknown = set(options) - KEYWORDS - {f.name for f in fields(own)}
    if unknown:
        raise UsageError(f"Unknown option(s): {', '.join(sorted(unknown))}.",
                         "See help(envforge.verify) for the options it takes.")
    return parts_from(options), {k: v for k, v in options.items() if k not in KEYWORDS}
