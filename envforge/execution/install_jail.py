"""Install steps keep the network but not the user's secrets (issue 13).

Building an env runs code the model chose: uv, pip and virtualenv run the build backends of the sdists the
requirements name (a `setup.py` is arbitrary Python), and conda's linker runs packages' link scripts. They need
the network (the index) and the caches under $HOME (uv's, pip's, rattler's), so they cannot get the model's
sandbox (execution/sandbox.py). What they must not get is what a CI job or a laptop keeps for other
purposes: cloud and cluster credentials, SSH and GPG keys, registry and git tokens, and the container engines'
sockets (root on the machine, in effect).

So each install step runs inside bubblewrap with the filesystem as it is (`--bind / /`) and the network shared,
except that each of those places that exists is masked: a directory by an empty tmpfs, a file or socket by
/dev/null. It is a deny list, so it hides what is known, not everything: the README says so. The environment
variables installers get are already scrubbed (proc.child_env; no AWS_*, tokens or DOCKER_HOST).

proc.run wraps every child a thread starts while `confined()` is active (building/cached_envs.py holds it around a build):
`--sandbox off` turns it off; where bubblewrap cannot run, installs run as before and `describe()` says so.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

from envforge.execution import sandbox as model_sandbox
from envforge.processes.proc import wrapping

# Under $HOME: where credentials live (cloud CLIs, cluster configs, keys, registry and git tokens, keyrings).
HOME_SECRETS = (
    ".aws", ".azure", ".config/gcloud", ".kube", ".ssh", ".gnupg", ".docker", ".config/containers",
    ".netrc", ".git-credentials", ".config/git/credentials", ".config/gh", ".pypirc", ".npmrc", ".yarnrc",
    ".gem/credentials", ".m2/settings.xml", ".terraform.d", ".vault-token", ".databrickscfg", ".config/hub",
    ".local/share/keyrings", ".password-store", ".mlflow/credentials",
)
# Container engine sockets: access to one is root on the machine.
SOCKETS = ("/var/run/docker.sock", "/run/docker.sock", "/run/podman/podman.sock", "/run/containerd/containerd.sock",
           "/var/run/crio/crio.sock")


def masked_paths(home: Path | None = None) -> list[str]:
    """The secret places that exist here, resolved (a symlinked ~/.aws is masked where it points)."""
    home = home or Path(os.path.expanduser("~"))
    found = [home / rel for rel in HOME_SECRETS]
    found += [Path(p) for p in SOCKETS]
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        found += [Path(runtime) / "docker.sock", Path(runtime) / "podman" / "podman.sock"]
    docker_host = os.environ.get("DOCKER_HOST", "")
    if docker_host.startswith("unix://"):
        found.append(Path(urlparse(docker_host).path))
    out: list[str] = []
    for path in found:
        if os.path.lexists(path):
            real = os.path.realpath(path)
            if os.path.exists(real) and real not in out and real != os.path.realpath(home):
                out.append(real)
    return out


def prefix(home: Path | None = None) -> list[str]:
    """The bubblewrap command line an install step runs under (then `--` and the step's own argv)."""
    args = [model_sandbox.bwrap_path(), "--bind", "/", "/", "--dev-bind", "/dev", "/dev", "--die-with-parent"]
    for path in masked_paths(home):
        args += ["--tmpfs", path] if os.path.isdir(path) else ["--ro-bind", os.devnull, path]
    return [*args, "--"]


def describe(mode: str, trust_earlier_probe: bool = False) -> str:
    """What the install steps of a build with --sandbox `mode` could reach (for notes and the README);
    `trust_earlier_probe`: as sandbox.choose's."""
    if mode == "off":
        return "install steps run unconfined (--sandbox off): with your files and secrets"
    why = model_sandbox.why_unavailable(trust_earlier_probe)
    if why:
        return f"install steps run unconfined ({why}): with your files and secrets"
    return "install steps run with the network, with credentials and container sockets hidden"


@contextlib.contextmanager
def confined(mode: str) -> Iterator[bool]:
    """While inside, every child this thread starts through proc.run is an install step under `prefix()`;
    yields whether it is (not with --sandbox off, nor where bubblewrap cannot run)."""
    if mode == "off" or model_sandbox.unavailable() is not None:
        yield False
        return
    with wrapping(prefix()):
        yield True
