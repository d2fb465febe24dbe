"""Bytecode for a fresh env whose first run was sandboxed (the env is read-only in the sandbox).

Unsandboxed, a new env's first run writes the .pyc files of what it imports into the env (and
store/bytecode.py keeps them for later envs). In the sandbox it cannot, so every later run would
compile mlflow and its stack again. Instead the first run compiles into its scratch directory
(`-X pycache_prefix`), which tells envforge *which* of the env's sources were imported; envforge
compiles exactly those with the env's Python, outside the sandbox and without site (-S: no .pth file
runs), as they appear (ImportedCompiler). The model's .pyc files themselves are never used: it could
have written anything there.

With a prefix, CPython looks for .pyc files only under it, not in the env's own __pycache__ folders,
so the .pyc files the bytecode store linked into the new env (store/bytecode.py) would be ignored and
the first run would compile mlflow's whole stack again: measured 11.4 s for a new env's runner against
4.0 s unsandboxed. `mirror` points the prefix at them first, by symlinks into the env, which the
sandbox binds read-only: the model can read them, replace a link with a file of its own in its
scratch, never write through one.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from envforge.cores import usable_cores
from envforge.proc import child_env, run

PREFIX = "/tmp/pycache"  # inside the sandbox: the scratch /tmp
POLL = 1.0               # seconds between looks at what the sandboxed run has compiled so far


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


class ImportedCompiler:
    """Compiles into the env, with its own Python outside the sandbox, the sources whose .pyc the run
    wrote under scratch_tmp/pycache: while the run goes on (what it wrote since the last look, every
    POLL seconds, on a thread of its own: the run compiles on one core, this on another) and, once it
    ends, what is left, split over the cores. Done only after the run, the iris model's 2,500 files
    took 4.5 s more after it, on 2 cores: 16.0 s for a first verify in a new ENVFORGE_HOME, 11.2 s
    with the overlap. `listings` is a folder for the lists handed to compileall."""

    def __init__(self, scratch_tmp: Path, env_dir: Path, python: str, listings: Path) -> None:
        self._root, self._env_root = scratch_tmp / "pycache", str(env_dir.resolve())
        self._python, self._listings = python, listings
        self._seen: set[str] = set()
        self._lists = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.compiled = 0

    def start(self) -> ImportedCompiler:
        """Watch the run from now on, if a core is spare: on one core the compiles would only take turns
        with the run's, plus a compileall start per look (measured: 1.4 s more than all after it)."""
        if usable_cores() > 1:
            self._thread = threading.Thread(target=self._watch, name="envforge-pycache", daemon=True)
            self._thread.start()
        return self

    def finish(self) -> int:
        """Stop watching, compile what is left over the usable cores; how many were compiled in all."""
        self.stop()
        self._compile(self._new_sources(), usable_cores())
        return self.compiled

    def stop(self) -> None:
        """Stop watching (waits for a compile under way); the run's scratch can go after this."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(POLL):
            self._compile(self._new_sources(), 1)

    def _new_sources(self) -> list[str]:
        """The env's sources of the .pyc files the run wrote since the last call (not `mirror`'s links:
        the env has those .pyc already; a link the run replaced with its own file counts then)."""
        found, root, inside = [], str(self._root), self._env_root + os.sep
        for dirpath, _, filenames in os.walk(root):
            for name in filenames:
                pyc = os.path.join(dirpath, name)
                if not name.endswith(".pyc") or pyc in self._seen or os.path.islink(pyc):
                    continue
                self._seen.add(pyc)
                source = os.path.join("/", os.path.relpath(dirpath, root), name.split(".", 1)[0] + ".py")
                real = os.path.realpath(source)
                if (real == source or real.startswith(inside)) and source.startswith(inside) and os.path.isfile(source):
                    found.append(source)
        return found

    def _compile(self, sources: list[str], parts: int) -> None:
        chunks = [sources[i::parts] for i in range(parts) if sources[i::parts]]
        if len(chunks) <= 1:
            for chunk in chunks:
                self._compile_one(chunk)
            return
        threads = [threading.Thread(target=self._compile_one, args=(chunk,), daemon=True) for chunk in chunks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _compile_one(self, sources: list[str]) -> None:
        with self._lock:
            self._lists += 1
            listing = self._listings / f"compile-{self._lists}.txt"
        try:
            listing.write_text("\n".join(sources) + "\n")
            outcome = run([self._python, "-I", "-S", "-m", "compileall", "-q", "-i", str(listing)], timeout=600, env=child_env())
        except OSError:  # best effort, like mirror: a .pyc fewer is compiled by a later run
            return
        if outcome.ok:
            with self._lock:
                self.compiled += len(sources)
