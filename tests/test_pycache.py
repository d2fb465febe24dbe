"""execution/pycache.py and runner/compile_ahead.py: the .pyc of a new env's first sandboxed run (the env
read-only to it) are compiled into the env by envforge: ahead of the run, from the imports that follow
statically from the modules the run will import, then what the run named. Real CPython, real compiles,
real imports reading the .pyc; no sandbox needed to show which .pyc CPython loads."""

from __future__ import annotations

import os
import py_compile
import shutil
import subprocess
import sys
import time
from pathlib import Path

from envforge.execution import pycache
from envforge.runner import compile_ahead_path

TAG = sys.implementation.cache_tag


def _env(tmp_path: Path) -> Path:
    site = tmp_path / "env" / "lib" / "site-packages"
    site.mkdir(parents=True)
    (site / "seeded.py").write_text("VALUE = 1\n")
    (site / "fresh.py").write_text("VALUE = 2\n")
    py_compile.compile(str(site / "seeded.py"), cfile=str(site / "__pycache__" / f"seeded.{TAG}.pyc"))
    return tmp_path / "env"


def _verbose_import(site: Path, names: str) -> str:
    """`python -B -v` (reads .pyc, writes none: as the read-only env in the sandbox): its stderr says, per
    module, which .pyc it loaded."""
    proc = subprocess.run([sys.executable, "-I", "-B", "-v", "-c", f"import sys; sys.path.insert(0, {str(site)!r}); import {names}"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stderr


def _package_env(tmp_path: Path) -> tuple[Path, Path]:
    """An env whose `app` imports, at module level, in a class body, under try, relatively and through a
    `from pkg import submodule`, what compile_ahead must follow; and in a function what it must not."""
    env = tmp_path / "env"
    site = env / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    version = ".".join(map(str, sys.version_info[:3]))
    site.mkdir(parents=True)
    (env / "pyvenv.cfg").write_text(f"home = /usr/bin\nimplementation = CPython\nversion_info = {version}\n")
    files = {
        "app/__init__.py": "from . import core\nfrom .util import helper\nimport dep.deep\n"
                           "try:\n    import optional_missing\nexcept ImportError:\n    pass\n"
                           "class K:\n    import inclass\n"
                           "def later():\n    import lazy\n",
        "app/core.py": "from app import sibling\nimport os\n",
        "app/sibling.py": "X = 1\n",
        "app/util/__init__.py": "",
        "app/util/helper.py": "from ..core import os\n",
        "dep/__init__.py": "",
        "dep/deep.py": "try:\n    import broken\nexcept SyntaxError:\n    pass\n",
        "broken.py": "def (:\n",
        "inclass.py": "",
        "lazy.py": "",
        "unrelated.py": "",
    }
    for name, text in files.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text(text)
    return env, site


def _compile_ahead(env: Path, site: Path, stop: Path, *roots: str) -> int:
    proc = subprocess.run([sys.executable, "-I", "-S", str(compile_ahead_path()), str(stop), str(env), str(site), "--", *roots],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout)


def _pyc(site: Path, name: str) -> Path:
    source = site / name
    return source.parent / "__pycache__" / f"{source.stem}.{TAG}.pyc"


FOLLOWED = ["app/__init__.py", "app/core.py", "app/sibling.py", "app/util/__init__.py", "app/util/helper.py",
            "dep/__init__.py", "dep/deep.py", "inclass.py"]


def test_compile_ahead_follows_what_the_import_will_run_and_cpython_loads_its_pyc(tmp_path: Path) -> None:
    env, site = _package_env(tmp_path)
    assert _compile_ahead(env, site, tmp_path / "stop", "app") == len(FOLLOWED)
    assert [name for name in FOLLOWED if not _pyc(site, name).is_file()] == []
    assert not _pyc(site, "lazy.py").exists()       # imported only when later() is called
    assert not _pyc(site, "unrelated.py").exists()  # imported by nothing
    assert not _pyc(site, "broken.py").exists()     # a syntax error: skipped, the rest goes on
    verbose = _verbose_import(site, "app")
    for name in FOLLOWED:
        assert f"code object from '{_pyc(site, name)}'" in verbose  # CPython's own checks accept them
    assert _compile_ahead(env, site, tmp_path / "stop", "app") == 0  # fresh .pyc are not written again
    _pyc(site, "dep/deep.py").unlink()
    assert _compile_ahead(env, site, tmp_path / "stop", "app") == 1  # followed through the fresh .pyc's code


def test_compile_ahead_finds_the_env_through_a_symlinked_path(tmp_path: Path) -> None:
    """ENV_ROOT is resolved (pycache passes env_dir.resolve()); a site-packages named through a symlink (an
    ENVFORGE_HOME under a linked folder) is the same env."""
    env, site = _package_env(tmp_path / "real")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    linked_site = tmp_path / "link" / site.relative_to(tmp_path / "real")
    assert _compile_ahead(env.resolve(), linked_site, tmp_path / "stop", "app") == len(FOLLOWED)


def test_compile_ahead_writes_only_into_the_env_and_stops_when_told(tmp_path: Path) -> None:
    env, site = _package_env(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "elsewhere.py").write_text("import app\n")
    def ahead(*roots: str) -> int:
        proc = subprocess.run([sys.executable, "-I", "-S", str(compile_ahead_path()), str(tmp_path / "stop"), str(env),
                               str(outside), str(site), "--", *roots], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return int(proc.stdout)
    assert ahead("elsewhere") == 0  # not the env's (as the standard library): not compiled, not followed
    assert ahead("elsewhere", "app") == len(FOLLOWED)
    assert not (outside / "__pycache__").exists()
    shutil.rmtree(site / "app" / "__pycache__")
    (tmp_path / "stop").touch()
    assert _compile_ahead(env, site, tmp_path / "stop", "app") == 0
    assert not (site / "app" / "__pycache__").exists()


def test_the_ahead_compiler_compiles_before_the_run_imports_then_what_the_run_named(tmp_path: Path, monkeypatch) -> None:
    """AheadCompiler: the .pyc are in the env before any run imported the module (here: no run at all
    until they are), and after the run the sources it named (run_model.note_uncompiled's list: here lazy.py,
    which no static import reaches) are compiled too."""
    monkeypatch.setattr(pycache, "usable_cores", lambda: 2)
    env, site = _package_env(tmp_path)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    compiler = pycache.AheadCompiler(scratch, env, sys.executable, tmp_path, ("app",)).start()
    deadline = time.monotonic() + 30
    while not _pyc(site, "inclass.py").is_file() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _pyc(site, "inclass.py").is_file()
    (scratch / os.path.basename(pycache.ListedCompiler.INSIDE)).write_text(f"{site / 'lazy.py'}\n{site / 'app' / 'core.py'}\n")
    assert compiler.finish() == len(FOLLOWED) + 1  # lazy.py; core.py's .pyc is fresh already
    assert (compiler.ahead, compiler.compiled) == (len(FOLLOWED), 1)
    assert _pyc(site, "lazy.py").is_file()


def test_on_one_core_nothing_is_compiled_ahead(tmp_path: Path, monkeypatch) -> None:
    """It would only take turns with the run's own compiles; the run's list still gets compiled."""
    monkeypatch.setattr(pycache, "usable_cores", lambda: 1)
    env, site = _package_env(tmp_path)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / os.path.basename(pycache.ListedCompiler.INSIDE)).write_text(f"{site / 'lazy.py'}\n")
    compiler = pycache.AheadCompiler(scratch, env, sys.executable, tmp_path, ("app",)).start()
    assert compiler.finish() == 1
    assert not _pyc(site, "app/__init__.py").exists() and _pyc(site, "lazy.py").is_file()


def test_an_unsandboxed_first_run_gets_its_imports_compiled_ahead_too(tmp_path: Path, monkeypatch) -> None:
    """--sandbox off: the run writes its own .pyc, but on one core; inside compiling_ahead another core
    compiles ahead of it."""
    monkeypatch.setattr(pycache, "usable_cores", lambda: 2)
    env, site = _package_env(tmp_path)
    with pycache.compiling_ahead(env, sys.executable, ("app",), tmp_path):
        deadline = time.monotonic() + 30
        while not _pyc(site, "inclass.py").is_file() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _pyc(site, "inclass.py").is_file()
    assert [name for name in FOLLOWED if not _pyc(site, name).is_file()] == []


def test_first_imports_come_from_the_models_flavors_and_are_module_names(tmp_path: Path) -> None:
    def model(name: str, flavors: str) -> Path:
        (tmp_path / name).mkdir()
        (tmp_path / name / "MLmodel").write_text(f"flavors:\n{flavors}")
        return tmp_path / name
    sk = model("sk", "  python_function:\n    loader_module: mlflow.sklearn\n  sklearn:\n    pickled_model: model.pkl\n")
    torch = model("torch", "  python_function:\n    loader_module: mlflow.pytorch\n  pytorch:\n    code: null\n")
    hostile = model("hostile", "  python_function:\n    loader_module: '--stop'\n  'a;b':\n    x: 1\n  '--':\n    x: 1\n")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "MLmodel").write_text(": : :\n")
    assert pycache.first_imports([sk, torch, hostile, broken, tmp_path / "missing"]) == (
        "sklearn", "torch", "mlflow.pyfunc", "mlflow.models", "mlflow.sklearn", "mlflow.pytorch")


def test_a_seeded_env_s_run_names_what_it_compiled_and_only_env_sources_are_compiled(tmp_path: Path) -> None:
    """ListedCompiler: the runner (run_model.note_uncompiled) lists the sources it imported without a .pyc
    it could write; envforge compiles those of them that are the env's own files, nothing else."""
    env = _env(tmp_path)
    site = env / "lib" / "site-packages"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    listed = scratch / os.path.basename(pycache.ListedCompiler.INSIDE)
    runner, outside = Path(pycache.__file__).parents[1] / "runner", tmp_path / "outside"
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


def test_the_run_s_list_is_split_over_the_cores(tmp_path: Path, monkeypatch) -> None:
    """After the run, what it named goes to one compileall per usable core, each with its own share."""
    env = _env(tmp_path)
    site = env / "lib" / "site-packages"
    names = [f"mod{i}" for i in range(6)]
    for name in names:
        (site / f"{name}.py").write_text(f"NAME = {name!r}\n")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / os.path.basename(pycache.ListedCompiler.INSIDE)).write_text("".join(f"{site / name}.py\n" for name in names))
    monkeypatch.setattr(pycache, "usable_cores", lambda: 3)
    assert pycache.ListedCompiler(scratch, env, sys.executable, tmp_path).finish() == 6
    lists = sorted(tmp_path.glob("compile-*.txt"))
    assert len(lists) == 3 and sorted(line for f in lists for line in f.read_text().split()) == sorted(
        str(site / f"{name}.py") for name in names)
    assert all((site / "__pycache__" / f"{name}.{TAG}.pyc").is_file() for name in names)


def test_the_store_s_seed_decides_which_way(tmp_path: Path) -> None:
    """A venv whose mlflow has .pyc files (the bytecode store seeded it) needs no compiling ahead."""
    env = tmp_path / "venv"
    version = ".".join(map(str, sys.version_info[:3]))
    site = env / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    (site / "mlflow").mkdir(parents=True)
    (env / "pyvenv.cfg").write_text(f"home = /usr/bin\nimplementation = CPython\nversion_info = {version}\n")
    (site / "mlflow" / "__init__.py").write_text("")
    assert isinstance(pycache.for_new_env(tmp_path / "s", env, sys.executable, tmp_path), pycache.AheadCompiler)
    py_compile.compile(str(site / "mlflow" / "__init__.py"), cfile=str(site / "mlflow" / "__pycache__" / f"__init__.{TAG}.pyc"))
    assert isinstance(pycache.for_new_env(tmp_path / "s", env, sys.executable, tmp_path), pycache.ListedCompiler)
