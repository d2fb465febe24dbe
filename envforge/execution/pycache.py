"""Bytecode for a fresh env whose first run was sandboxed (the env is read-only in the sandbox).

Unsandboxed, a new env's first run writes the .pyc files of what it imports into the env (and
store/bytecode.py keeps them for later envs). In the sandbox it cannot, so every later run would
compile mlflow and its stack again. Instead the first run compiles into its scratch directory
(`-X pycache_prefix`), which tells envforge *which* of the env's sources were imported; envforge
compiles exactly those with the env's Python, outside the sandbox and without site (-S: no .pth file
runs), as they appear (ImportedCompiler). The model's .pyc files themselves are never used: it could
have written anything there. A new env the bytecode store seeded runs without the prefix and the
runner names what it had to compile (ListedCompiler).

With a prefix, CPython looks for .pyc files only under it, not in the env's own __pycache__ folders,
so the .pyc files the bytecode store linked into the new env (store/bytecode.py) would be ignored and
the first run would compile mlflow's whole stack again: measured 11.4 s for a new env's runner against
4.0 s unsandboxed. `mirror` points the prefix at them first, by symlinks into the env, which the
sandbox binds read-only: the model can read them, replace a link with a file of its own in its
scratch, never write through one.
"""

from __future__ import annotations

import os
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from envforge.cores import usable_cores
from envforge.proc import child_env, run
from envforge.store import bytecode

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


class _Compiler:
    """Compiles env sources into the env with its own Python, -I -S, outside the sandbox."""

    def __init__(self, env_dir: Path, python: str, listings: Path) -> None:
        self._env_root, self._python, self._listings = str(env_dir.resolve()), python, listings
        self._lists = 0
        self._lock = threading.Lock()
        self.compiled = 0

    def argv(self, argv: list[str]) -> list[str]:
        return argv

    def variables(self) -> dict[str, str]:
        return {}

    def start(self) -> _Compiler:
        return self

    def finish(self) -> int:
        """After the run: compile what is left; how many were compiled in all."""
        raise NotImplementedError

    def stop(self) -> None:
        """Nothing under way after this; the run's scratch can go."""

    def _env_source(self, source: str) -> bool:
        """Whether `source` (named by the sandboxed run: untrusted) is a source file of the env itself."""
        inside = self._env_root + os.sep
        if "\0" in source or not source.startswith(inside):
            return False
        real = os.path.realpath(source)
        return (real == source or real.startswith(inside)) and os.path.isfile(source)

    def _compile(self, sources: list[str], parts: int) -> None:
        chunks = [sources[i::parts] for i in range(parts) if sources[i::parts]]
        if chunks:
            with ThreadPoolExecutor(max_workers=len(chunks)) as pool:  # each thread waits on one compileall
                list(pool.map(self._compile_one, chunks))

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


class ImportedCompiler(_Compiler):
    """For an env with no .pyc yet. The run compiles into scratch_tmp/pycache (-X pycache_prefix;
    `mirror` first links there what the env has), and envforge compiles into the env the sources of
    what the run wrote there: while the run goes on (what it wrote since the last look, every POLL
    seconds, on a thread of its own: the run compiles on one core, this on another) and, once it
    ends, what is left, split over the cores. Done only after the run, the iris model's 2,500 files
    took 4.5 s more after it, on 2 cores: 16.0 s for a first verify in a new ENVFORGE_HOME, 11.2 s
    with the overlap. `listings` is a folder for the lists handed to compileall."""

    def __init__(self, scratch_tmp: Path, env_dir: Path, python: str, listings: Path) -> None:
        super().__init__(env_dir, python, listings)
        self._scratch_tmp, self._env_dir = scratch_tmp, env_dir
        self._root = scratch_tmp / "pycache"
        self._seen: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def argv(self, argv: list[str]) -> list[str]:
        return prefixed(argv)

    def start(self) -> ImportedCompiler:
        """Link the env's .pyc under the prefix, and watch the run from now on if a core is spare: on one
        core the compiles would only take turns with the run's, plus a compileall start per look
        (measured: 1.4 s more than all after it)."""
        mirror(self._scratch_tmp, self._env_dir)
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
        found, root = [], str(self._root)
        for dirpath, _, filenames in os.walk(root):
            for name in filenames:
                pyc = os.path.join(dirpath, name)
                if not name.endswith(".pyc") or pyc in self._seen or os.path.islink(pyc):
                    continue
                self._seen.add(pyc)
                source = os.path.join("/", os.path.relpath(dirpath, root), name.split(".", 1)[0] + ".py")
                if self._env_source(source):
                    found.append(source)
        return found


class ListedCompiler(_Compiler):
    """For an env the bytecode store seeded (store/bytecode.py): the run reads the env's .pyc where they
    are, no prefix (linking 2,500 of them under one, and compiling the standard library there again,
    cost ~1.3 s of a 6.3 s verify), and the runner lists, as it exits, the sources it imported whose
    .pyc it could not write into the read-only env (run_model.py: ENVFORGE_UNCOMPILED); envforge
    compiles those into the env."""

    INSIDE = "/tmp/envforge-uncompiled.txt"  # the scratch /tmp, as the run sees it
    LIST_BYTES = 8 * 1024 * 1024

    def __init__(self, scratch_tmp: Path, env_dir: Path, python: str, listings: Path) -> None:
        super().__init__(env_dir, python, listings)
        self._list = scratch_tmp / os.path.basename(self.INSIDE)

    def variables(self) -> dict[str, str]:
        return {"ENVFORGE_UNCOMPILED": self.INSIDE}

    def finish(self) -> int:
        sources = [line for line in dict.fromkeys(self._read().splitlines()) if line and self._env_source(line)]
        self._compile(sources, usable_cores())
        return self.compiled

    def _read(self) -> str:
        """The list, if it is a regular file of at most LIST_BYTES (the run made it: not a FIFO to hang
        on, nor a link out of the scratch)."""
        try:
            fd = os.open(self._list, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return ""
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return ""
            data = handle.read(self.LIST_BYTES + 1)
        return "" if len(data) > self.LIST_BYTES else data.decode("utf-8", "replace")


def for_new_env(scratch_tmp: Path, env_dir: Path, python: str, listings: Path) -> _Compiler:
    """How a new env's first sandboxed run gets its imports compiled into the env: ListedCompiler when
    the bytecode store seeded it (its mlflow has .pyc files already), else ImportedCompiler."""
    kind = ListedCompiler if bytecode.seeded(env_dir) else ImportedCompiler
    return kind(scratch_tmp, env_dir, python, listings)
