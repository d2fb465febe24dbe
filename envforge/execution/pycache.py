"""Bytecode for a fresh env whose first run was sandboxed (the env is read-only in the sandbox).

Unsandboxed, a new env's first run writes the .pyc files of what it imports into the env (and
store/bytecode.py keeps them for later envs). In the sandbox it cannot, so every later run would
compile mlflow and its stack again. Instead the first run compiles into its scratch directory
(`-X pycache_prefix`), which tells envforge *which* of the env's sources were imported; envforge then
compiles exactly those with the env's Python, outside the sandbox and without site (-S: no .pth file
runs). The model's .pyc files themselves are never used: it could have written anything there.

With a prefix, CPython looks for .pyc files only under it, not in the env's own __pycache__ folders,
so the .pyc files the bytecode store linked into the new env (store/bytecode.py) would be ignored and
the first run would compile mlflow's whole stack again: measured 11.4 s for a new env's runner against
4.0 s unsandboxed. `mirror` points the prefix at them first, by symlinks into the env, which the
sandbox binds read-only: the model can read them, replace a link with a file of its own in its
scratch, never write through one.
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


def mirror(scratch_tmp: Path, env_dir: Path) -> int:
    """Symlink each .pyc of the env's __pycache__ folders to where the prefixed run will look for it
    (scratch_tmp/pycache/<the source's folder>/<name>.pyc); how many. Best effort: any OSError means a
    .pyc fewer, compiled by the run as before."""
    root, env_root, linked = str(scratch_tmp / "pycache"), env_dir.resolve(), 0
    for dirpath, dirnames, filenames in os.walk(env_root):
        if os.path.basename(dirpath) != "__pycache__":
            continue
        dirnames.clear()
        names = [name for name in filenames if name.endswith(".pyc")]
        target_dir = os.path.join(root, os.path.dirname(dirpath).lstrip(os.sep))
        try:
            if names:
                os.makedirs(target_dir, exist_ok=True)
            for name in names:
                os.symlink(os.path.join(dirpath, name), os.path.join(target_dir, name))
                linked += 1
        except OSError:
            continue
    return linked


def compile_imported(scratch_tmp: Path, env_dir: Path, python: str, listing: Path) -> int:
    """Compile into the env the sources whose .pyc the run wrote under scratch_tmp/pycache; how many."""
    root = scratch_tmp / "pycache"
    env_root = str(env_dir.resolve())
    sources = []
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            if not name.endswith(".pyc") or os.path.islink(os.path.join(dirpath, name)):
                continue  # a link `mirror` made: the env has that .pyc already
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
