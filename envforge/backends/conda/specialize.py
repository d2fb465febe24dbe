"""The EnvSpec the conda backend builds: the model's conda.yaml, the user's channels, a lock if any.

load_spec (backend "conda") already reads conda.yaml: every conda spec, the pip section, and the
channels. Here the user's --channel replaces those channels, and a conda-lock file (--lockfile, or
`conda-lock.yml` in the model directory) joins the key by its content: a different lock is a
different environment, and a lock means no solve at all.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from envforge.backends.base import BuildOptions
from envforge.backends.conda.channels import describe
from envforge.errors import UsageError
from envforge.spec import EnvSpec
from envforge.spec.paths import inside
from envforge.spec.wheels import sha256_file

LOCK_NAME = "conda-lock.yml"  # conda-lock's default file name; a model directory may hold one


def lock_path(model_dir: Path, options: BuildOptions) -> Path | None:
    """The lock to install instead of solving: --lockfile, else the model's own conda-lock.yml."""
    if options.lockfile:
        path = Path(options.lockfile).expanduser()
        if not path.is_file():
            raise UsageError(f"--lockfile {options.lockfile}: no such file.",
                             f"Write one with `envforge lock URI --backend conda -o {LOCK_NAME}`.")
        return path.resolve()
    if (model_dir / LOCK_NAME).is_file():
        return inside(model_dir, LOCK_NAME, f"the model's {LOCK_NAME}")
    return None


def conda_spec(spec: EnvSpec, model_dir: Path, options: BuildOptions) -> EnvSpec:
    notes = list(spec.notes)
    channels = spec.conda_channels
    if options.channels:
        channels = tuple(options.channels)
        notes.append(f"conda channels from --channel ({describe(channels)}) replace the logged ones "
                     f"({describe(spec.conda_channels) or 'none'})")
    files = dict(spec.file_hashes)
    path = lock_path(model_dir, options)
    if path is not None:
        token = f"./{LOCK_NAME}" if path.parent == model_dir.resolve() and not options.lockfile else "--lockfile"
        files[token] = sha256_file(path)
        notes.append(f"installing exactly the conda lock {path} (no solve)")
    return replace(spec, conda_channels=channels, file_hashes=tuple(sorted(files.items())), notes=tuple(notes))
