"""execution/pycache.py: a sandboxed first run (-X pycache_prefix, the env read-only) uses the .pyc files the
bytecode store seeded into the env, through `mirror`'s links, and envforge compiles into the env only what
that run had to compile itself. Real CPython, real compiles; no sandbox needed to show the prefix rule."""

from __future__ import annotations

import os
import py_compile
import subprocess
import sys
import time
from pathlib import Path

import pytest

from envforge.execution import pycache

TAG = sys.implementation.cache_tag


def _env(tmp_path: Path) -> Path:
    site = tmp_path / "env" / "lib" / "site-packages"
    site.mkdir(parents=True)
    (site / "seeded.py").write_text("VALUE = 1\n")
    (site / "fresh.py").write_text("VALUE = 2\n")
    py_compile.compile(str(site / "seeded.py"), cfile=str(site / "__pycache__" / f"seeded.{TAG}.pyc"))
    return tmp_path / "env"


def _import(site: Path, prefix: Path) -> str:
    """`python -v` under the prefix: its stderr says, per module, which .pyc it loaded or that it compiled."""
    proc = subprocess.run([sys.executable, "-I", "-X", f"pycache_prefix={prefix}", "-v", "-c",
                           f"import sys; sys.path.insert(0, {str(site)!r}); import seeded, fresh"],
                          capture_output=True, text=True, timeout=60, env={k: v for k, v in os.environ.items()
                                                                           if k != "PYTHONDONTWRITEBYTECODE"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stderr


def test_the_prefixed_run_loads_the_seeded_pyc_and_only_the_rest_is_compiled_into_the_env(tmp_path: Path) -> None:
    env = _env(tmp_path)
    site = env / "lib" / "site-packages"
    scratch = tmp_path / "scratch"
    assert pycache.mirror(scratch, env) == 1
    link = scratch / "pycache" / str(site.resolve()).lstrip(os.sep) / f"seeded.{TAG}.pyc"
    assert link.is_symlink() and os.path.samefile(link, site / "__pycache__" / f"seeded.{TAG}.pyc")

    verbose = _import(site, scratch / "pycache")
    assert f"code object from '{link}'" in verbose  # the seeded .pyc, not a compile
    assert f"# wrote {str(site / 'seeded.py')!r}" not in verbose
    assert link.is_symlink()  # not replaced: nothing was recompiled for it

    compiled = pycache.ImportedCompiler(scratch, env, sys.executable, tmp_path).finish()
    assert compiled == 1  # fresh.py only: the run compiled it under the prefix
    assert (tmp_path / "compile-1.txt").read_text().split() == [str(site.resolve() / "fresh.py")]
    assert (site / "__pycache__" / f"fresh.{TAG}.pyc").is_file()


def test_without_the_mirror_the_prefixed_run_compiles_even_what_the_env_has(tmp_path: Path) -> None:
    """The control: what every sandboxed first run of a new env did before `mirror`."""
    env = _env(tmp_path)
    site = env / "lib" / "site-packages"
    verbose = _import(site, tmp_path / "empty-prefix")
    assert f"code object from '{site / '__pycache__'}" not in verbose
    assert (tmp_path / "empty-prefix" / str(site.resolve()).lstrip(os.sep) / f"seeded.{TAG}.pyc").is_file()


@pytest.mark.parametrize("cores", [2, 1])
def test_what_the_run_imported_is_compiled_into_the_env_while_it_still_runs(tmp_path: Path, monkeypatch, cores: int) -> None:
    """With a core to spare, the compile of a new env's imports overlaps the sandboxed run: a module the run
    imported is in the env's __pycache__ while the run still goes on; the rest once it ends. On one core
    (the count is what envforge asks, set here) it all waits for the end of the run."""
    monkeypatch.setattr(pycache, "usable_cores", lambda: cores)
    monkeypatch.setattr(pycache, "POLL", 0.1)
    env = _env(tmp_path)
    site = env / "lib" / "site-packages"
    (site / "later.py").write_text("VALUE = 3\n")
    scratch, go_on = tmp_path / "scratch", tmp_path / "go-on"
    compiler = pycache.ImportedCompiler(scratch, env, sys.executable, tmp_path).start()
    script = ("import os, sys, time; sys.path.insert(0, sys.argv[1]); import fresh\n"
              "while not os.path.exists(sys.argv[2]): time.sleep(0.05)\n"
              "import later\n")
    run = subprocess.Popen([sys.executable, "-I", "-X", f"pycache_prefix={scratch / 'pycache'}", "-c", script, str(site), str(go_on)],
                           env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"})
    try:
        fresh_pyc = site / "__pycache__" / f"fresh.{TAG}.pyc"
        deadline = time.monotonic() + (30 if cores > 1 else 3)
        while not fresh_pyc.is_file() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert run.poll() is None
        assert fresh_pyc.is_file() is (cores > 1)  # compiled while the run waits, with a core to spare
        assert not (site / "__pycache__" / f"later.{TAG}.pyc").exists()
        go_on.touch()
        assert run.wait(timeout=30) == 0
    finally:
        run.kill()
        compiler.stop()
    assert compiler.finish() == 2  # fresh.py then later.py; seeded.py's .pyc came through mirror's link
    assert (site / "__pycache__" / f"later.{TAG}.pyc").is_file()


def test_the_rest_is_split_over_the_cores(tmp_path: Path, monkeypatch) -> None:
    """After the run, what is left goes to one compileall per usable core, each with its own share."""
    env = _env(tmp_path)
    site = env / "lib" / "site-packages"
    names = [f"mod{i}" for i in range(6)]
    for name in names:
        (site / f"{name}.py").write_text(f"NAME = {name!r}\n")
    scratch = tmp_path / "scratch"
    _import_all(site, scratch / "pycache", names)
    monkeypatch.setattr(pycache, "usable_cores", lambda: 3)
    assert pycache.ImportedCompiler(scratch, env, sys.executable, tmp_path).finish() == 6
    lists = sorted(tmp_path.glob("compile-*.txt"))
    assert len(lists) == 3 and sorted(line for f in lists for line in f.read_text().split()) == sorted(
        str(site.resolve() / f"{name}.py") for name in names)
    assert all((site / "__pycache__" / f"{name}.{TAG}.pyc").is_file() for name in names)


def _import_all(site: Path, prefix: Path, names: list[str]) -> None:
    subprocess.run([sys.executable, "-I", "-X", f"pycache_prefix={prefix}", "-c",
                    f"import sys; sys.path.insert(0, {str(site)!r}); " + "; ".join(f"import {n}" for n in names)],
                   check=True, timeout=60, env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"})


def test_a_seeded_env_s_run_names_what_it_compiled_and_only_env_sources_are_compiled(tmp_path: Path) -> None:
    """ListedCompiler: the runner (run_model.note_uncompiled) lists the sources it imported without a .pyc
    it could write; envforge compiles those of them that are the env's own files, nothing else."""
    env = _env(tmp_path)
    site = env / "lib" / "site-packages"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    listed = scratch / os.path.basename(pycache.ListedCompiler.INSIDE)
    runner, outside = Path(pycache.__file__).parent / "runner", tmp_path / "outside"
    outside.mkdir()
    (outside / "elsewhere.py").write_text("VALUE = 4\n")
    subprocess.run([sys.executable, "-I", "-B", "-c", "import sys; sys.path[:0] = sys.argv[1:4]; import seeded, fresh, elsewhere, run_model; "
                    "run_model.note_uncompiled(sys.argv[4])", str(site), str(outside), str(runner), str(listed)], check=True, timeout=60)
    lines = listed.read_text().split()
    assert str(site / "fresh.py") in lines and str(site / "seeded.py") not in lines  # seeded.py's .pyc is there
    assert str(outside / "elsewhere.py") in lines  # imported without a .pyc, but not the env's: never compiled
    listed.write_text(listed.read_text() + "/etc/hostname\n" + str(site / "fresh.py") + "\n"  # what a model could add
                      + str(site / "fresh.py") + "\0x\n" + str(site) + "/../../../../../../../../../../etc/hostname\n")
    compiler = pycache.ListedCompiler(scratch, env, sys.executable, tmp_path)
    assert compiler.variables() == {"ENVFORGE_UNCOMPILED": pycache.ListedCompiler.INSIDE}
    assert compiler.argv(["python", "-I", "x"]) == ["python", "-I", "x"]  # no prefix: the env's .pyc are read in place
    assert compiler.finish() == 1
    assert (tmp_path / "compile-1.txt").read_text().split() == [str(site / "fresh.py")]
    assert (site / "__pycache__" / f"fresh.{TAG}.pyc").is_file()


def test_a_list_that_is_a_fifo_or_a_link_is_not_read(tmp_path: Path) -> None:
    env = _env(tmp_path)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    listed = scratch / os.path.basename(pycache.ListedCompiler.INSIDE)
    os.mkfifo(listed)  # opening it to read would wait for a writer forever
    assert pycache.ListedCompiler(scratch, env, sys.executable, tmp_path).finish() == 0
    listed.unlink()
    outside = tmp_path / "outside.txt"
    outside.write_text(str(env / "lib" / "site-packages" / "fresh.py") + "\n")
    listed.symlink_to(outside)
    assert pycache.ListedCompiler(scratch, env, sys.executable, tmp_path).finish() == 0


def test_the_store_s_seed_decides_which_way(tmp_path: Path) -> None:
    """A venv whose mlflow has .pyc files (the bytecode store seeded it) runs without the prefix."""
    env = tmp_path / "venv"
    version = ".".join(map(str, sys.version_info[:3]))
    site = env / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    (site / "mlflow").mkdir(parents=True)
    (env / "pyvenv.cfg").write_text(f"home = /usr/bin\nimplementation = CPython\nversion_info = {version}\n")
    (site / "mlflow" / "__init__.py").write_text("")
    assert isinstance(pycache.for_new_env(tmp_path / "s", env, sys.executable, tmp_path), pycache.ImportedCompiler)
    py_compile.compile(str(site / "mlflow" / "__init__.py"), cfile=str(site / "mlflow" / "__pycache__" / f"__init__.{TAG}.pyc"))
    assert isinstance(pycache.for_new_env(tmp_path / "s", env, sys.executable, tmp_path), pycache.ListedCompiler)
