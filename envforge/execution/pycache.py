"""Bytecode for a fresh env whose first run was sandboxed (the env is read-only in the sandbox).

Unsandboxed, a new env's first run writes the .pyc files of what it imports into the env (and
store/bytecode.py keeps them for later envs). In the sandbox it cannot, so every later run would
compile mlflow and its stack again. Instead the first run compiles into its scratch directory
(`-X pycache_prefix`), which tells envforge *which* of the env's sources were imported; envforge then
compiles exactly those with the env's Python, outside the sandbox and without site (-S: no .pth file
runs). The model's .pyc files themselves are never used: it could have written anything there.
"""

from __future__ import annotations

import os
from pathlib import Path

from envforge.proc import child_env, run

PREFIX = "/tmp/pycache"  # inside the sandbox: the scratch /tmp


def prefixed(argv: list[str]) -> list[str]:
    """argv with `-X pycache_prefix=` after the interpreter's -I (older Pythons ignore an unknown -X)."""
    if "-I" not in argv:
        return argv
    at = argv.index("-I") + 1
    return [*argv[:at], "-X", f"pycache_prefix={PREFIX}", *argv[at:]]


def compile_imported(scratch_tmp: Path, env_dir: Path, python: str, listing: Path) -> int:
    """Compile into the env the sources whose .pyc the run wrote under scratch_tmp/pycache; how many."""
    root = scratch_tmp / "pycache"
    env_root = str(env_dir.resolve())
    sources = []
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            if not name.endswith(".pyc"):
                continue
            relative = os.path.relpath(dirpath, root)
            source = os.path.join("/", relative, name.split(".", 1)[0] + ".py")
            real = os.path.realpath(source)
            if (real == source or real.startswith(env_root + os.sep)) and source.startswith(env_root + os.sep) and os.path.isfile(source):
                sources.append(source)
    if not sources:
        return 0
    listing.write_text("\n".join(sources) + "\n")
    outcome = run([python, "-I", "-S", "-m", "compileall", "-q", "-i", str(listing)], timeout=600, env=child_env())
    return len(sources) if outcome.ok else 0
