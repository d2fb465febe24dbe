"""execution/pycache.py: a sandboxed first run (-X pycache_prefix, the env read-only) uses the .pyc files the
bytecode store seeded into the env, through `mirror`'s links, and envforge compiles into the env only what
that run had to compile itself. Real CPython, real compiles; no sandbox needed to show the prefix rule."""

from __future__ import annotations

import os
import py_compile
import subprocess
import sys
from pathlib import Path

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

    compiled = pycache.compile_imported(scratch, env, sys.executable, tmp_path / "listing.txt")
    assert compiled == 1  # fresh.py only: the run compiled it under the prefix
    assert (tmp_path / "listing.txt").read_text().split() == [str(site.resolve() / "fresh.py")]
    assert (site / "__pycache__" / f"fresh.{TAG}.pyc").is_file()


def test_without_the_mirror_the_prefixed_run_compiles_even_what_the_env_has(tmp_path: Path) -> None:
    """The control: what every sandboxed first run of a new env did before `mirror`."""
    env = _env(tmp_path)
    site = env / "lib" / "site-packages"
    verbose = _import(site, tmp_path / "empty-prefix")
    assert f"code object from '{site / '__pycache__'}" not in verbose
    assert (tmp_path / "empty-prefix" / str(site.resolve()).lstrip(os.sep) / f"seeded.{TAG}.pyc").is_file()
