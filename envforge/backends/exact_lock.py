"""`envforge lock` for the backends that install envforge's pip-style locks: a built env's installed set
as `name==version --hash=...` lines. uv compiles them from the exact pins (`--no-deps`, no new resolution),
with hashes from the same indexes the env was built from (the model's and the user's). The format is read
back by spec/envlock.py."""

from __future__ import annotations

import datetime
import tempfile
from pathlib import Path

from envforge.backends.base import Env, WrittenLock, check
from envforge.backends.build_options import BuildOptions
from envforge.backends.index import index_args, install_remedy, installer_env
from envforge.errors import EnvBuildError
from envforge.processes.proc import run
from envforge.redact import redact
from envforge.spec import EnvSpec, lock_digest
from envforge.spec.envlock import installed_packages
from envforge.spec.lines import logical_lines
from envforge.version import __version__


def write_exact_lock(env: Env, spec: EnvSpec, model_dir: Path, uri: str, options: BuildOptions) -> WrittenLock:
    """The lock of a built env; packages installed from the model's own files are named in its header, not locked."""
    from envforge.backends.tools import uv_bin

    packages = installed_packages(env.installed)
    local = [p for p in packages if p.local]
    pinned = [p for p in packages if not p.local]
    if not pinned:
        raise EnvBuildError(f"The environment at {env.path} reports no installed packages, so there is nothing to lock.",
                            "Rebuild it (`envforge verify --refresh`), then lock again.")
    with tempfile.TemporaryDirectory(prefix="envforge-lock-") as tmp:
        source = Path(tmp) / "installed.txt"
        source.write_text("\n".join(p.line for p in pinned) + "\n")
        argv = [uv_bin(), "pip", "compile", str(source), "--generate-hashes", "--no-deps", "--no-header",
                "--no-annotate", "--quiet", "--python-version", env.python_version,
                *index_args(spec, options, "uv", model_dir=model_dir)]
        env_vars = installer_env("uv", options, {"UV_PYTHON_DOWNLOADS": "never"})
        outcome = check(run(argv, timeout=min(options.timeout, 900.0), env=env_vars, cwd=tmp), "Locking the environment with uv",
                        install_remedy(options, "Check that the package index is reachable: the hashes come from it."))
    body = outcome.stdout.strip() + "\n"
    written = len(logical_lines(body.splitlines()))
    if written != len(pinned):
        raise EnvBuildError(f"uv locked {written} of the environment's {len(pinned)} packages.", "Report this as a bug in envforge.")
    stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    header = [
        f"# envforge lock: the exact packages of the environment rebuilt for {redact(uri)}",
        f"# python: {env.python_version}",
        f"# resolved as of: {env.resolved_as_of or 'latest (the index as it stood at ' + stamp + ')'}",
        f"# backend {env.backend}, env key {env.key[:24]}, written by envforge {__version__} at {stamp}",
        "# use: envforge verify URI --lock THIS_FILE  (or: uv pip install --require-hashes -r THIS_FILE)",
        f"# digest: {lock_digest.digest(lock_digest.from_lock_text(body))}  (what `verify --attest` names as the lock)",
    ]
    header += [f"# not locked (installed from the model's own files): {p.line}" for p in local]
    skipped = f"; not locked (the model's own files): {', '.join(p.name for p in local)}" if local else ""
    summary = (f"{len(pinned)} packages with hashes (python {env.python_version}){skipped}; "
               f"digest {lock_digest.digest(lock_digest.from_lock_text(body))}")
    return WrittenLock("\n".join(header) + "\n" + body, summary)
