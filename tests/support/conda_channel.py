"""A real local conda channel for the conda backend's tests, built with rattler-build (py-rattler-build).

Packages (recipes in conda_recipes/): `python` 3.11.7 repackaged from pyenv's interpreter, `pip` from
that interpreter's ensurepip wheel, and `ef-hello`, a conda-only executable that a test model's
predict runs. Built once per machine into ~/.cache/envforge-tests/conda-channel-<hash of the
recipes and inputs> (a marker file is written last, so an interrupted build is redone), in two child
processes: rattler-build, then py-rattler's indexer (building and indexing in one process crashed at
exit). Warm, `ensure_channel` costs a stat.

    python tests/support/conda_channel.py [DIR]   # build (or find) the channel, print its file:// URL
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

RECIPES = Path(__file__).resolve().parent / "conda_recipes"
PACKAGES = ("ef-hello", "pip", "python")
PYTHON_VERSION = "3.11.7"
MARKER = ".envforge-channel-ready"


def python_source() -> Path:
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    source = root / "versions" / PYTHON_VERSION
    if not (source / "bin" / "python3.11").is_file():
        raise RuntimeError(f"the test channel repackages pyenv's CPython {PYTHON_VERSION}, but {source} has no bin/python3.11: "
                           f"install it (`pyenv install {PYTHON_VERSION}`) or set PYENV_ROOT")
    return source


def pip_wheel(source: Path) -> Path:
    wheels = sorted((source / "lib" / "python3.11" / "ensurepip" / "_bundled").glob("pip-*.whl"))
    if not wheels:
        raise RuntimeError(f"{source} has no ensurepip pip wheel to package")
    return wheels[-1]


def fingerprint() -> str:
    """Changes when a recipe, the packaged interpreter or pip wheel, or rattler-build changes."""
    from importlib.metadata import version

    source = python_source()
    digest = hashlib.sha256()
    for path in sorted(RECIPES.rglob("*.yaml")):
        digest.update(path.relative_to(RECIPES).as_posix().encode() + b"\0" + path.read_bytes())
    stat = (source / "lib" / "libpython3.11.so.1.0").stat()
    digest.update(f"{source}|{stat.st_size}|{stat.st_mtime_ns}|{pip_wheel(source).name}|{version('py-rattler-build')}".encode())
    return digest.hexdigest()[:16]


def cache_root() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "envforge-tests"


def ensure_channel(root: Path | None = None) -> Path:
    """The channel directory (built on first use on this machine; concurrent callers build once)."""
    import filelock

    root = root or cache_root()
    target = root / f"conda-channel-{fingerprint()}"
    if (target / MARKER).is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(str(target) + ".lock", timeout=600):
        if (target / MARKER).is_file():
            return target
        work = root / f"{target.name}.building-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        source = python_source()
        wheel = pip_wheel(source)
        env = {**os.environ, "PY_SRC": str(source), "PIP_WHEEL": str(wheel), "PIP_VERSION": wheel.name.split("-")[1]}
        for step in ("build", "index"):  # two processes: see the module docstring
            done = subprocess.run([sys.executable, __file__, f"--{step}", str(work)], env=env, capture_output=True,
                                  text=True, timeout=600)
            if done.returncode != 0:
                raise RuntimeError(f"building the test conda channel failed at {step}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        for leftover in ("bld", "src_cache", ".tmp", "rattler-build-log.txt"):
            path = work / leftover
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(work, target)
        (target / MARKER).write_text(fingerprint() + "\n")  # last: the channel is complete
    return target


def _build(output: Path) -> None:
    import rattler_build

    for name in PACKAGES:
        recipe = rattler_build.Stage0Recipe.from_file(str(RECIPES / name / "recipe.yaml"))
        for variant in recipe.render(rattler_build.VariantConfig()):
            variant.run_build(output_dir=str(output), channels=[], no_include_recipe=True)


def _index(output: Path) -> None:
    import asyncio

    from rattler.index import index_fs

    asyncio.run(index_fs(output, write_shards=False))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] in ("--build", "--index"):
        (_build if sys.argv[1] == "--build" else _index)(Path(sys.argv[2]))
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)  # skip the native libraries' shutdown, which may crash after the work is done
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    print(ensure_channel(Path(sys.argv[1]) if len(sys.argv) > 1 else None).as_uri())
