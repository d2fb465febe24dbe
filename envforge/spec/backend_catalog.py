"""The one list of backends (pre-commit's all_languages): name -> where its class lives and what it reads.

Everything that needs to know which backends exist asks this dict: argparse's choices, the CLI's help,
reports, the spec parser (which env files a backend reads), the cache (which backend removes an env).
It imports only errors.py, so any module can consult it; the classes are imported only when one is used.
"""

from __future__ import annotations

from dataclasses import dataclass

from envforge.errors import UsageError


@dataclass(frozen=True)
class Entry:
    module: str
    cls: str
    summary: str                           # one line for --help
    reads_conda_yaml: bool = False         # builds from conda.yaml (its conda part too), not python_env.yaml
    installs_system_packages: bool = False  # installs the apt packages a model declares
    container: bool = False                # the env is an image; the model runs in a container


REGISTRY: dict[str, Entry] = {
    "uv": Entry("envforge.backends.uv", "UvBackend", "uv venv + uv pip install (the default)"),
    "virtualenv": Entry("envforge.backends.virtualenv", "VirtualenvBackend", "virtualenv + the env's own pip, as MLflow does"),
    "conda": Entry("envforge.backends.conda", "CondaBackend",
                   "conda.yaml solved and linked by py-rattler, locked in conda-lock's format (no conda binary)",
                   reads_conda_yaml=True),
    "docker": Entry("envforge.backends.docker", "DockerBackend", "an image built through the Docker Engine API, "
                    "the model verified in a no-network container of it", installs_system_packages=True, container=True),
}
DEFAULT = "uv"
NAMES = tuple(REGISTRY)


def entry(name: str) -> Entry:
    """The registry entry of `name`; a UsageError naming the known ones for any other name."""
    found = REGISTRY.get(name)
    if found is None:
        raise UsageError(f"Unknown backend {name!r}.", f"Choose one of: {', '.join(NAMES)}.")
    return found


def help_text() -> str:
    """What --backend says about each backend."""
    return "; ".join(f"{name}: {e.summary}" for name, e in REGISTRY.items())
