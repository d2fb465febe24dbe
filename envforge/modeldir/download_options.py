"""DownloadOptions: how the model directory is fetched and accepted (--download-timeout, --allow-outside-links).

Read by pipeline.load_model alone, which hands each to the modeldir function that uses it
(modeldir/resolve.py's download, modeldir/links.py's check). `--check` is not here: the env cache reads it
too (building/cached_envs.py), so it stays in BuildOptions, which load_model also gets.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DownloadOptions:
    download_timeout: float = 600.0     # --download-timeout: fetching the model from the tracking server
    allow_outside_links: bool = False   # model files may be symlinks out of the model dir (DVC, git-annex)
