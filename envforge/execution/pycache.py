"""Bytecode for a fresh env whose first run is sandboxed (the env is read-only in the sandbox).

Unsandboxed, a new env's first run writes the .pyc files of what it imports into the env (and
store/bytecode.py keeps them for later envs). In the sandbox it cannot, so every later run would
compile mlflow and its stack again. Instead envforge compiles into the env, with the env's Python,
outside the sandbox and without site (-S: no .pth file runs), the sources the run imports: the run's
own .pyc files are never used (the model could have written anything there).

The run reads the env's __pycache__ folders as they fill (no -X pycache_prefix: under one, CPython
looks nowhere else, and would compile the standard library again too). A new env the bytecode store
seeded has most of them already (ListedCompiler: the runner names, as it exits, what it still had to
compile). A new env the store could not seed has none: envforge compiles, while the run goes on and
on another core, what the run is about to import (AheadCompiler), then what the run still named.
"""

from __future__ import annotations

import os
import re
import stat
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from envforge.errors import EnvforgeError
from envforge.processes.cores import usable_cores
from envforge.processes.proc import child_env, run
from envforge.runner import compile_ahead_path
from envforge.spec.mlmodel import read_mlmodel
from envforge.store import bytecode

_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_LIBRARY = {"pytorch": "torch", "spark": "pyspark"}  # flavors whose library has another import name
RUNNER_IMPORTS = ("mlflow.pyfunc", "mlflow.models")  # what the runner imports before it loads a model


def first_imports(model_dirs: list[Path]) -> tuple[str, ...]:
    """The modules a new env's first run will import, for AheadCompiler: the models' flavor libraries
    (scikit-learn for `sklearn`: the run imports them last, as it loads each model), then the runner's
    own mlflow imports and the models' loader modules. Names from MLmodel files, kept only when they are
    module names (they become arguments: never `--` or an option)."""
    flavors: list[str] = []
    loaders: list[str] = []
    for model_dir in model_dirs:
        try:
            mlmodel = read_mlmodel(model_dir)
        except EnvforgeError:
            continue
        flavors += [_LIBRARY.get(name, name) for name in mlmodel.flavors if name != "python_function"]
        loaders += [mlmodel.loader_module] if mlmodel.loader_module else []
    names = [*flavors, *RUNNER_IMPORTS, *loaders]
    return tuple(dict.fromkeys(name for name in names if len(name) < 200 and _MODULE.fullmatch(name)))


class _Compiler:
    """Compiles env sources into the env with its own Python, -I -S, outside the sandbox."""

    def __init__(self, env_dir: Path, python: str, listings: Path) -> None:
        self._env_root, self._python, self._listings = str(env_dir.resolve()), python, listings
        self._lists = 0
        self._lock = threading.Lock()
        self.compiled = 0  # after the run, from its list
        self.ahead = 0     # during the run (AheadCompiler)

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


class ListedCompiler(_Compiler):
    """For an env the bytecode store seeded (store/bytecode.py): the run reads the env's .pyc where they
    are and lists, as it exits, the sources it imported whose .pyc it could not write into the read-only
    env (run_model.py: ENVFORGE_UNCOMPILED); envforge compiles those into the env, over the cores."""

    INSIDE = "/tmp/envforge-uncompiled.txt"  # the scratch /tmp, as the run sees it
    LIST_BYTES = 8 * 1024 * 1024

    def __init__(self, scratch_tmp: Path, env_dir: Path, python: str, listings: Path) -> None:
        super().__init__(env_dir, python, listings)
        self._list = scratch_tmp / os.path.basename(self.INSIDE)
        layout = bytecode.env_layout(env_dir)
        self._tag = layout[2] if layout else None  # the env's cache tag: its .pyc names

    def variables(self) -> dict[str, str]:
        return {"ENVFORGE_UNCOMPILED": self.INSIDE}

    def finish(self) -> int:
        sources = [line for line in dict.fromkeys(self._read().splitlines())
                   if line and self._env_source(line) and not (self._tag and _has_pyc(line, self._tag))]
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


class _Ahead:
    """runner/compile_ahead.py on a thread of its own, from start() to stop(): the env's Python, -I -S, follows
    statically the imports of `roots` and writes the .pyc of each env source that has none. Only where a core
    is spare: on one it would only take turns with the run. `written`: how many .pyc it wrote."""

    def __init__(self, env_dir: Path, python: str, roots: tuple[str, ...], stop_file: Path) -> None:
        layout = bytecode.env_layout(env_dir)
        search = [str(d) for d in ((layout[0], layout[0] / "site-packages") if layout else ()) if d.is_dir()]
        self._argv = [python, "-I", "-S", str(compile_ahead_path()), str(stop_file), str(env_dir.resolve()),
                      *search, "--", *roots]
        self._stop_file, self._roots = stop_file, roots
        self._thread: threading.Thread | None = None
        self.written = 0

    def start(self) -> _Ahead:
        try:
            self._stop_file.unlink()
        except OSError:
            pass
        if self._roots and usable_cores() > 1:
            self._thread = threading.Thread(target=self._run, name="envforge-compile-ahead", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Ask compile_ahead to stop at its next module, and wait for it."""
        try:
            self._stop_file.touch()
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        try:
            outcome = run(self._argv, timeout=600, env=child_env())
        except OSError:  # best effort: what it did not compile, the run compiles (and, sandboxed, names)
            return
        words = outcome.stdout.split()
        if outcome.ok and words and words[-1].isdigit():
            self.written = int(words[-1])


class AheadCompiler(ListedCompiler):
    """For a new env the bytecode store could not seed (the first of its packages in this ENVFORGE_HOME).
    While the run goes on, _Ahead compiles into the env what the run will import (`roots`, first_imports: the
    flavor libraries first, which the run reaches last); the run, in the sandbox, reads those .pyc where it gets
    there after it, and compiles in memory only what it reaches first. When the run ends that stops, and the
    sources the run named as compiled without a .pyc (ListedCompiler) are compiled over the cores. Without it,
    the run compiled everything on its one core under a prefix and envforge compiled all of it again into the env.
    The two work apart on purpose (the flavor first): a run made to wait for the .pyc of the module the ahead
    compile has under way, rather than compile it too, was slower in either root order (10.1 s and 9.8 s against
    9.5 s, medians of 5 in one session): imports nest, so a run that waits for each one moves in step with it."""

    def __init__(self, scratch_tmp: Path, env_dir: Path, python: str, listings: Path, roots: tuple[str, ...]) -> None:
        super().__init__(scratch_tmp, env_dir, python, listings)
        self._ahead = _Ahead(env_dir, python, roots, listings / "compile-ahead.stop")

    def start(self) -> AheadCompiler:
        self._ahead.start()
        return self

    def finish(self) -> int:
        """Stop compiling ahead, compile what the run named; how many .pyc were written in all."""
        self.stop()
        super().finish()
        return self.ahead + self.compiled

    def stop(self) -> None:
        self._ahead.stop()
        self.ahead = self._ahead.written


@contextmanager
def compiling_ahead(env_dir: Path | None, python: str, roots: tuple[str, ...], listings: Path) -> Iterator[None]:
    """While inside, a new env's first *unsandboxed* run (which writes its own .pyc into the env, on its one
    core) gets what it is about to import compiled ahead of it (_Ahead), on another."""
    if env_dir is None or bytecode.seeded(env_dir):
        yield
        return
    ahead = _Ahead(env_dir, python, roots, listings / "compile-ahead.stop").start()
    try:
        yield
    finally:
        ahead.stop()


def _has_pyc(source: str, tag: str) -> bool:
    """A .pyc is there for `source` by now (AheadCompiler wrote it after the run had imported it): its
    freshness is CPython's to check, as for every .pyc."""
    folder, name = os.path.split(source)
    return os.path.isfile(os.path.join(folder, "__pycache__", f"{name[:-3]}.{tag}.pyc"))


def for_new_env(scratch_tmp: Path, env_dir: Path, python: str, listings: Path, roots: tuple[str, ...] = ()) -> _Compiler:
    """How a new env's first sandboxed run gets its imports compiled into the env: ListedCompiler when
    the bytecode store seeded it (its mlflow has .pyc files already), else AheadCompiler."""
    if bytecode.seeded(env_dir):
        return ListedCompiler(scratch_tmp, env_dir, python, listings)
    return AheadCompiler(scratch_tmp, env_dir, python, listings, roots)
