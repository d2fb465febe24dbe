"""Every command-line option, defined once (nox's _options.py); commands compose the groups they take.

`option_parts(args)` is the one way the parsed arguments become options: BuildOptions, RunOptions and
DownloadOptions (building/option_parts.py); an option a command does not define keeps its default.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from envforge.backends.build_options import BuildOptions
from envforge.building.option_parts import KEYWORDS, OptionParts, parts_from
from envforge.compare import DEFAULT_ATOL, DEFAULT_RTOL
from envforge.spec.backend_catalog import DEFAULT, NAMES, help_text

URI_HELP = ("model URI: a local directory, file:..., runs:/<run_id>/<path>, models:/<name>/<version>, "
            "models:/<name>@<alias>, models:/<name>/latest or models:/m-<model id>")


def add_uri(p: argparse.ArgumentParser, alias: bool = True) -> None:
    """The model URI, positional or (`alias`) as MLflow spells it: -m/--model-uri (cli/conventions.settle_uri)."""
    if not alias:
        p.add_argument("uri", help=URI_HELP)
        return
    p.add_argument("uri", nargs="?", help=URI_HELP)
    p.add_argument("-m", "--model-uri", dest="model_uri", metavar="URI", help="the model URI, as MLflow spells it (instead of URI)")


def add_tracking(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tracking-uri", metavar="URI", help="MLflow tracking URI, e.g. http://127.0.0.1:5000 (default: $MLFLOW_TRACKING_URI, "
                                                         "else MLflow's default store if it already exists: envforge never creates one)")


def add_backend(p: argparse.ArgumentParser, what: str = "how to build the environment") -> None:
    p.add_argument("--backend", "--env-manager", dest="backend", default=DEFAULT, choices=NAMES,
                   help=f"{what}: {help_text()} (default: {DEFAULT}; --env-manager is MLflow's spelling)")


def add_index(p: argparse.ArgumentParser) -> None:
    """The user's index settings; they are part of the env's key."""
    add_index_urls(p)
    p.add_argument("--find-links", action="append", default=[], metavar="DIR_OR_URL",
                   help="a directory or page of wheels to install from (repeatable)")


def add_index_urls(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index-url", metavar="URL", help="package index to use instead of the model's (or the installer's default)")
    p.add_argument("--extra-index-url", action="append", default=[], metavar="URL",
                   help="another package index, asked before the model's own extra indexes (repeatable)")


def add_image_build(p: argparse.ArgumentParser, prefix: str = "--backend docker: ") -> None:
    """What an env image is built on and trusts (backends/docker/)."""
    p.add_argument("--base-image", metavar="IMAGE", help=f"{prefix}the image to build on (default: python:<logged X.Y>-slim)")
    p.add_argument("--ca-bundle", metavar="PEM", help=f"{prefix}CA certificates to trust while building (e.g. a proxy's)")
    p.add_argument("--install-missing", action="store_true",
                   help=f"{prefix}apt-install the Debian packages of the shared libraries the env's extensions need and the image lacks")


def add_image_run(p: argparse.ArgumentParser) -> None:
    """What happens to the model image after a container verification (backends/docker/)."""
    p.add_argument("--tag", metavar="NAME", help="--backend docker: keep the image that passed as NAME; it serves the model on port 8080")
    p.add_argument("--keep-image", action="store_true", help="--backend docker: keep the model image even without --tag or a pass")
    p.add_argument("--memory", default="4g", metavar="SIZE", help="the container's (--backend docker) or the sandbox's memory limit (default: 4g)")


def add_conda(p: argparse.ArgumentParser) -> None:
    """The conda backend's options (backends/conda/); the other backends ignore them."""
    p.add_argument("--channel", action="append", default=[], metavar="URL",
                   help="--backend conda: a conda channel (name or URL; repeatable) replacing conda.yaml's, e.g. a mirror")
    p.add_argument("--lockfile", metavar="FILE", help="--backend conda: install exactly this conda-lock file, no solve "
                                                      "(default: the model's conda-lock.yml, if it has one)")
    p.add_argument("--conda-exe", metavar="PATH", help="--backend conda: solve with this conda, mamba or micromamba instead of py-rattler")


def add_build_timeout(p: argparse.ArgumentParser) -> None:
    p.add_argument("--build-timeout", type=float, default=1800.0, metavar="SECONDS",
                   help="limit for each step of building the environment: creating it, each install (default: 1800)")
    # issue 34: backends/wheel_check.py, commands/implied_checks.py
    p.add_argument("--allow-source-builds", action="store_true", help="let a requirement with no wheel for the interpreter build from source")
    p.add_argument("--add-implied", action="store_true", help="add the distributions the model's pickles import and its requirements omit")


def add_offline(p: argparse.ArgumentParser) -> None:
    p.add_argument("--offline", action="store_true",
                   help="never access a package index: install only from the model's wheels, --find-links and the installer's cache")


def add_refresh(p: argparse.ArgumentParser) -> None:
    p.add_argument("--refresh", action="store_true", help="download the model again even when it is cached")


def add_env(p: argparse.ArgumentParser, interpreter_flag: str = "--python") -> None:
    """How to get the model's env, for every command that builds or reuses one (verify, serve-check, shell, run,
    diff, lock): the tracking server, the backend, a lock, the interpreter, package sources and limits."""
    add_tracking(p)
    add_backend(p)
    p.add_argument("--lock", metavar="FILE", help="install exactly the packages of this lock (`envforge lock`) instead of the "
                                                  "model's requirements (default: the lock stored by `record --store-lock`, if any)")
    p.add_argument("--no-stored-lock", action="store_true", help="ignore a lock stored with the model by `record --store-lock`")
    p.add_argument(interpreter_flag, dest="interpreter", metavar="PATH", help="use this interpreter for the environment")
    p.add_argument("--python-match", choices=["auto", "exact", "minor"], default="auto",
                   help="auto (default): the logged patch version if installed, else the same minor with a warning")
    p.add_argument("--allow-python-download", action="store_true", help="let uv download a missing interpreter")
    add_offline(p)
    add_index(p)
    add_refresh(p)
    add_build_timeout(p)
    p.add_argument("--download-timeout", type=float, default=600.0, metavar="SECONDS",
                   help="limit for fetching the model from the tracking server (default: 600)")
    add_resolve(p)
    add_conda(p)
    add_image_build(p)


def resolve_value(text: str) -> str:
    """argparse type of --resolve: a bad or future date is a usage error (exit 2), before anything is downloaded."""
    from envforge.errors import EnvforgeError
    from envforge.spec.asof import check_option

    try:
        check_option(text)
    except EnvforgeError as exc:
        raise argparse.ArgumentTypeError(exc.paragraph()) from None
    return text.strip()


def add_resolve(p: argparse.ArgumentParser) -> None:
    """--resolve: as of when unpinned requirements are resolved (spec/asof.py); part of the env's key."""
    from envforge.spec.asof import HELP

    p.add_argument("--resolve", type=resolve_value, metavar="logged|latest|DATE", help=HELP)
    from envforge.spec.runtime_profiles import HELP as RUNTIME_HELP

    p.add_argument("--runtime-profile", metavar="auto|off|NAME", help=RUNTIME_HELP)


def resolutions_value(text: str) -> str:
    """argparse type of verify-registry's --resolve: one value or several, comma-separated, each checked."""
    from envforge.errors import EnvforgeError
    from envforge.registry.drift import parse_resolutions

    try:
        parse_resolutions(text)
    except EnvforgeError as exc:
        raise argparse.ArgumentTypeError(exc.paragraph()) from None
    return text.strip()


def add_resolutions(p: argparse.ArgumentParser) -> None:
    """verify-registry's --resolve: like --resolve, or several (`logged,latest`): each is a run of its own, and
    each version gets a verdict (registry/drift.py). dest `resolutions`: build_options leaves it alone."""
    from envforge.spec.asof import HELP

    p.add_argument("--resolve", dest="resolutions", type=resolutions_value, metavar="logged|latest|DATE[,...]",
                   help=HELP + "; several, comma-separated (e.g. logged,latest): verify under each and give each version "
                               "a verdict (reproduces as logged, still works with today's packages, drifted)")


def add_tolerances(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rtol", type=float, default=DEFAULT_RTOL, help=f"relative tolerance for floats (default: {DEFAULT_RTOL:g})")
    p.add_argument("--atol", type=float, default=DEFAULT_ATOL, help=f"absolute tolerance for floats (default: {DEFAULT_ATOL:g})")


def add_expected(p: argparse.ArgumentParser) -> None:
    p.add_argument("--expected", metavar="PATH_OR_URI",
                   help="expectations file to compare with (default: the one `envforge record` stored with the model)")


def add_reports(p: argparse.ArgumentParser, what: str = "the result") -> None:
    p.add_argument("--json", type=Path, metavar="FILE", help=f"write {what} as JSON")
    p.add_argument("--junit", type=Path, metavar="FILE", help=f"write {what} as JUnit XML")


def add_print_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON")


def add_pass_env(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pass-env", action="append", default=[], metavar="NAME",
                   help="let the model's process see this environment variable (repeatable); it otherwise gets a "
                        "minimal environment: no cloud credentials or tokens")


def add_sandbox(p: argparse.ArgumentParser) -> None:
    """The model's sandbox under the local backends (execution/sandbox.py) and the model dir's links (modeldir/links.py)."""
    p.add_argument("--sandbox", choices=["auto", "on", "off"], default="auto",
                   help="run the model in a sandbox (bubblewrap: no network, no access to your files, limits): auto (default) "
                        "where the machine allows it, on: refuse to run without it (exit 3), off: run it as you")
    if "--memory" not in p._option_string_actions:
        p.add_argument("--memory", default="4g", metavar="SIZE", help="memory limit of the model's processes (default: 4g)")
    p.add_argument("--max-processes", type=int, default=512, metavar="N",
                   help="sandbox: processes and threads the model may have at once (default: 512)")
    p.add_argument("--max-file-size", default="2g", metavar="SIZE", help="sandbox: the largest file the model may write (default: 2g)")
    p.add_argument("--max-open-files", type=int, default=1024, metavar="N", help="sandbox: open files per process (default: 1024)")
    p.add_argument("--allow-outside-links", action="store_true",
                   help="accept model files that are symlinks to outside the model directory (DVC, git-annex caches)")


# argparse dest -> option field, where the names differ; the other fields share the dest's name.
_RENAMED = {"interpreter": "python", "build_timeout": "timeout", "extra_index_url": "extra_index_urls",
            "channel": "channels"}
_TUPLES = {"extra_index_urls", "find_links", "channels", "pass_env"}


def option_parts(args: argparse.Namespace) -> OptionParts:
    """The build, run and download options from whatever options the command defined."""
    given = {_RENAMED.get(k, k): v for k, v in vars(args).items()}
    values: dict[str, Any] = {name: tuple(value) if name in _TUPLES else value
                              for name, value in given.items() if name in KEYWORDS and value is not None}
    return parts_from(values)


def build_options(args: argparse.Namespace) -> BuildOptions:
    """BuildOptions from whatever build options the command defined."""
    return option_parts(args).build


def build_keywords(args: argparse.Namespace) -> dict[str, Any]:
    """option_parts(args) as keywords for the Python API (envforge.verify(..., **keywords))."""
    return option_parts(args).keywords()
