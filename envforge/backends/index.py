"""Index and source settings for pip and uv: the model's own, the user's overrides, offline mode.

A model's requirement files may carry --index-url, --extra-index-url, --find-links, --trusted-host,
--no-index, --pre and --prefer-binary (kept in EnvSpec.index_options, pip's spelling, with local
find-links directories as "./relative" tokens). The user adds or overrides them with the CLI's
--index-url / --extra-index-url / --find-links (BuildOptions) and with the installer's own
variables (UV_* for uv, PIP_* for pip, passed through by `installer_env`). `index_args` is the
one place that turns all of it into one installer's flags; both backends call it.

Precedence: the user's --index-url replaces the model's; so does a UV_INDEX_URL / UV_DEFAULT_INDEX
(uv) or PIP_INDEX_URL (pip) variable, which the model's flag would otherwise beat. The user's extra
indexes come before the model's (uv asks the earliest first). Find-links directories add up.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from envforge.backends.build_options import BuildOptions
from envforge.processes.proc import child_env
from envforge.spec import EnvSpec

TOOLS = ("uv", "pip")
_VALUE = ("--index-url", "--extra-index-url", "--find-links", "--trusted-host")
_INDEX_ENV = {"uv": ("UV_INDEX_URL", "UV_DEFAULT_INDEX"), "pip": ("PIP_INDEX_URL",)}
_ENV_PREFIX = {"uv": "UV_", "pip": "PIP_"}


def user_index_options(options: BuildOptions) -> tuple[str, ...]:
    """The user's index overrides in pip's spelling (what EnvSpec.index_overrides records)."""
    out: list[str] = []
    if options.index_url:
        out += ["--index-url", options.index_url]
    for url in options.extra_index_urls:
        out += ["--extra-index-url", url]
    for link in _user_links(options):
        out += ["--find-links", link]
    return tuple(out)


# The installer's own variables that change what gets installed (not offline mode: an env built
# online is the same env offline). Their values join the user's options in EnvSpec.key.
_KEY_VARIABLES = {
    "uv": ("UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_EXTRA_INDEX_URL", "UV_INDEX", "UV_FIND_LINKS", "UV_NO_INDEX",
           "UV_INDEX_STRATEGY", "UV_PRERELEASE", "UV_CONSTRAINT", "UV_OVERRIDE", "UV_BUILD_CONSTRAINT",
           "UV_EXCLUDE_NEWER", "UV_NO_BUILD", "UV_NO_BINARY", "UV_RESOLUTION", "UV_TORCH_BACKEND"),
    "pip": ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX", "PIP_PRE", "PIP_CONSTRAINT",
            "PIP_ONLY_BINARY", "PIP_NO_BINARY", "PIP_PREFER_BINARY"),
}
BACKEND_TOOL = {"uv": "uv", "virtualenv": "pip", "conda": "uv"}  # conda: uv installs the pip section


def index_overrides(options: BuildOptions, backend: str, environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Everything the user changed about where packages come from, for EnvSpec.index_overrides:
    the CLI's options, then the backend's installer variables that are set (NAME=value)."""
    environ = os.environ if environ is None else environ
    names = _KEY_VARIABLES.get(BACKEND_TOOL.get(backend, ""), ())
    listings = tuple(f"--find-links {link} offers {_listing(link)}" for link in _user_links(options) if "://" not in link)
    return user_index_options(options) + listings + tuple(f"{name}={environ[name]}" for name in names if environ.get(name))


def _listing(directory: str) -> str:
    """What a local wheel directory offers (names, sizes, mtimes): a changed wheel there means another env."""
    import hashlib

    try:
        entries = sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in os.scandir(directory) if e.is_file())
    except OSError:
        return "nothing (unreadable)"
    return hashlib.sha256(repr(entries).encode()).hexdigest()[:16]


def _user_links(options: BuildOptions) -> list[str]:
    return [link if "://" in link else os.path.abspath(link) for link in options.find_links]


def _model_options(spec: EnvSpec, model_dir: Path | None) -> tuple[dict[str, list[str]], set[str]]:
    values: dict[str, list[str]] = {name: [] for name in _VALUE}
    flags: set[str] = set()
    items = list(spec.index_options)
    while items:
        name = items.pop(0)
        if name in _VALUE and items:
            value = items.pop(0)
            if name == "--find-links" and value.startswith("./"):
                if model_dir is None:
                    raise ValueError("index_args needs model_dir to resolve the model's --find-links " + value)
                value = str(spec.local_file(model_dir, value))
            values[name].append(value)
        else:
            flags.add(name)
    return values, flags


def index_args(spec: EnvSpec, options: BuildOptions, tool: str, *, model_dir: Path | None = None,
               environ: Mapping[str, str] | None = None) -> list[str]:
    """Flags for `uv pip install` (tool "uv") or `pip install` (tool "pip").

    model_dir resolves the model's local --find-links directories; environ (default os.environ)
    is where the installer's own index variables are looked up.
    """
    if tool not in TOOLS:
        raise ValueError(f"tool must be one of {TOOLS}, not {tool!r}")
    environ = os.environ if environ is None else environ
    model, flags = _model_options(spec, model_dir)
    no_index = "--no-index" in flags or (tool == "pip" and options.offline)
    args: list[str] = ["--no-index"] if no_index else []
    if not no_index:
        env_index = any(environ.get(name) for name in _INDEX_ENV[tool])
        index_url = options.index_url or (None if env_index else (model["--index-url"] or [None])[-1])
        args += ["--index-url", index_url] if index_url else []
        for url in dict.fromkeys([*options.extra_index_urls, *model["--extra-index-url"]]):
            args += ["--extra-index-url", url]
        for host in dict.fromkeys(model["--trusted-host"]):
            args += ["--allow-insecure-host" if tool == "uv" else "--trusted-host", host]
    for link in dict.fromkeys([*model["--find-links"], *_user_links(options)]):
        args += ["--find-links", link]
    if "--pre" in flags:
        args += ["--prerelease", "allow"] if tool == "uv" else ["--pre"]
    if "--prefer-binary" in flags and tool == "pip":  # uv has no such preference; nothing to translate
        args.append("--prefer-binary")
    if options.offline and tool == "uv":
        args.append("--offline")
    return args


def installer_env(tool: str, options: BuildOptions, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The installer's environment: the basics, the user's own UV_* (uv) or PIP_* (pip) settings,
    `extra`, and offline mode as the tool's variable too (so nothing it runs can reach an index)."""
    env = child_env(extra, prefixes=(_ENV_PREFIX[tool],))
    if options.offline:
        env["UV_OFFLINE" if tool == "uv" else "PIP_NO_INDEX"] = "1"
    return env


OFFLINE_REMEDY = (
    "--offline is set, so no package index may be used: every requirement must be a file in the model "
    "(wheels/, code/), in a --find-links directory, or already in the installer's cache. "
    "Run without --offline to let it download what is missing."
)


def install_remedy(options: BuildOptions, remedy: str) -> str:
    """The remedy for a failed install: the backend's own, or what offline mode implies."""
    return OFFLINE_REMEDY if options.offline else remedy
