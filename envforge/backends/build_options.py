"""BuildOptions: what the user chose about building an environment (the CLI's build options, the API's keywords).

Its own module so that every part of the build (the protocol in base.py, the index settings in index.py,
each backend) can name it without importing the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from envforge.errors import UsageError


@dataclass(frozen=True)
class BuildOptions:
    python: str | None = None           # --python PATH
    python_match: str = "auto"          # exact | minor | auto
    allow_python_download: bool = False
    offline: bool = False               # any index access is an error (see backends/index.py)
    timeout: float = 1800.0             # --build-timeout: each step of a build (env creation, each install)
    download_timeout: float = 600.0     # --download-timeout: fetching the model from the tracking server
    pass_env: tuple[str, ...] = ()      # --pass-env NAME: variables the model's process may see (else a minimal env)
    index_url: str | None = None        # --index-url: replaces the model's
    extra_index_urls: tuple[str, ...] = ()  # --extra-index-url (repeatable)
    find_links: tuple[str, ...] = ()    # --find-links (repeatable)
    # conda backend (backends/conda/): --channel replaces conda.yaml's channels, --lockfile installs a
    # conda-lock file instead of solving, --conda-exe solves with conda/mamba/micromamba instead of py-rattler.
    channels: tuple[str, ...] = ()
    lockfile: str | None = None
    conda_exe: str | None = None
    # docker backend (backends/docker/): the image to build on, a CA bundle trusted during the build,
    # a name for the verified image (with a serving entrypoint), keep the model image, run limits.
    base_image: str | None = None
    ca_bundle: str | None = None
    install_missing: bool = False       # --install-missing: apt-install the shared libraries the image lacks (docker/native.py)
    tag: str | None = None
    keep_image: bool = False
    memory: str = "4g"                  # docker's container limit; the sandbox's per-process memory limit
    # the model's sandbox under the local backends (execution/sandbox.py): auto | on | off, and its limits
    sandbox: str = "auto"
    max_processes: int = 512
    max_file_size: str = "2g"
    max_open_files: int = 1024
    allow_outside_links: bool = False   # model files may be symlinks out of the model dir (DVC, git-annex)
    # --resolve logged|latest|DATE (spec/asof.py); None: envforge's default (logged, falling back to latest
    # with a warning where the index cannot honour it). The moment itself is EnvSpec.resolved_as_of.
    resolve: str | None = None
    allow_source_builds: bool = False  # --allow-source-builds: a requirement without a wheel may build from source (backends/wheel_check.py)
    add_implied: bool = False  # --add-implied: add the distributions the model's pickles import and its requirements omit (issue 34)
    runtime_profile: str | None = None  # --runtime-profile auto|off|NAME (spec/runtime_profiles.py)
    check: bool = False                 # --check: hash every file of the cached download and of a cached env (store/env_check.py)


def split_options(options: dict[str, Any], own: type) -> tuple[BuildOptions, dict[str, Any]]:
    """API keywords -> (BuildOptions, the command's own options); an unknown keyword is a UsageError."""
    build_keys = set(BuildOptions.__dataclass_fields__)
    unknown = set(options) - build_keys - set(own.__dataclass_fields__)
    if unknown:
        raise UsageError(f"Unknown option(s): {', '.join(sorted(unknown))}.",
                         "See help(envforge.verify) for the options it takes.")
    build = BuildOptions(**{k: v for k, v in options.items() if k in build_keys})
    return build, {k: v for k, v in options.items() if k not in build_keys}
