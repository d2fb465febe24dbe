"""BuildOptions: what the user chose about building an environment (the CLI's build options, the API's keywords).

Its own module so that every part of the build (the protocol in base.py, the index settings in index.py,
each backend) can name it without importing the others. Only what the build reads belongs here: where the
model runs is RunOptions (backends/run_options.py), how it is fetched DownloadOptions
(modeldir/download_options.py); building/option_parts.py splits the flat keywords into the three.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BuildOptions:
    python: str | None = None           # --python PATH
    python_match: str = "auto"          # exact | minor | auto
    allow_python_download: bool = False
    offline: bool = False               # any index access is an error (see backends/index.py)
    timeout: float = 1800.0             # --build-timeout: each step of a build (env creation, each install)
    index_url: str | None = None        # --index-url: replaces the model's
    extra_index_urls: tuple[str, ...] = ()  # --extra-index-url (repeatable)
    find_links: tuple[str, ...] = ()    # --find-links (repeatable)
    # conda backend (backends/conda/): --channel replaces conda.yaml's channels, --lockfile installs a
    # conda-lock file instead of solving, --conda-exe solves with conda/mamba/micromamba instead of py-rattler.
    channels: tuple[str, ...] = ()
    lockfile: str | None = None
    conda_exe: str | None = None
    # docker backend (backends/docker/): the image to build on, a CA bundle trusted during the build,
    # a name for the verified image (with a serving entrypoint), keep the model image.
    base_image: str | None = None
    ca_bundle: str | None = None
    install_missing: bool = False       # --install-missing: apt-install the shared libraries the image lacks (docker/native.py)
    tag: str | None = None
    keep_image: bool = False
    # --resolve logged|latest|DATE (spec/asof.py); None: envforge's default (logged, falling back to latest
    # with a warning where the index cannot honour it). The moment itself is EnvSpec.resolved_as_of.
    resolve: str | None = None
    allow_source_builds: bool = False  # --allow-source-builds: a requirement without a wheel may build from source (backends/wheel_check.py)
    add_implied: bool = False  # --add-implied: add the distributions the model's pickles import and its requirements omit (issue 34)
    runtime_profile: str | None = None  # --runtime-profile auto|off|NAME (spec/runtime_profiles.py)
    # --check: hash every file of a cached env (store/env_check.py, read by building/cached_envs.py) and of the
    # cached download (load_model, which gets BuildOptions anyway, hands it to modeldir/resolve.py)
    check: bool = False

