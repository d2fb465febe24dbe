"""A real local conda channel for the conda backend's tests, built with rattler-build (py-rattler-build).

Packages (recipes in conda_recipes/): `python`, a CPython this machine really has, repackaged; `pip` from
that interpreter's ensurepip wheel; and `ef-hello`, a conda-only executable that a test model's predict
runs. The interpreter is the test venv's own base (sys.base_prefix) when it is a self-contained prefix
(pyenv's, uv-managed, a python.org build), else one of the same minor version found as envforge finds
interpreters (tests/support/machine.py): the same minor, because the models' pip sections pin the test
venv's own mlflow/numpy/pandas, whose wheels are per minor. No version is assumed: the channel writes
what it packaged to packaged.json, and the tests assert that (`packaged`).

Built once per machine into ~/.cache/envforge-tests/conda-channel-<hash of the recipes and of what is
packaged> (a marker file is written last, so an interrupted build is redone), in two child processes:
rattler-build, then py-rattler's indexer (building and indexing in one process crashed at exit).
Warm, `ensure_channel` costs a few stats (plus envforge's interpreter discovery when the test venv's
base is not packageable, e.g. a venv made from a distribution's /usr/bin/python3).

    python tests/support/conda_channel.py [DIR]   # build (or find) the channel, print its file:// URL
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

RECIPES = Path(__file__).resolve().parent / "conda_recipes"
PACKAGES = ("ef-hello", "pip", "python")
MARKER = ".envforge-channel-ready"
PACKAGED = "packaged.json"  # {"python": "X.Y.Z", "python_minor": "X.Y", "pip": "...", "source": prefix}
SHARED_PREFIXES = (Path("/usr"), Path("/usr/local"))  # a distribution's: its stdlib is split across packages


def _pip_wheels(prefix: Path, minor: str) -> list[Path]:
    return sorted((prefix / "lib" / f"python{minor}" / "ensurepip" / "_bundled").glob("pip-*.whl"))


def packageable(prefix: Path, minor: str) -> bool:
    """A self-contained CPython prefix: its binary, stdlib and ensurepip's pip wheel all under it."""
    return (prefix not in SHARED_PREFIXES and (prefix / "bin" / f"python{minor}").is_file()
            and (prefix / "lib" / f"python{minor}" / "os.py").is_file() and bool(_pip_wheels(prefix, minor)))


def python_source() -> tuple[Path, str, str]:
    """(prefix, version "X.Y.Z", minor "X.Y") of the CPython to package: see the module docstring."""
    minor = f"{sys.version_info[0]}.{sys.version_info[1]}"
    base = Path(sys.base_prefix).resolve()
    if packageable(base, minor):
        return base, platform.python_version(), minor
    from tests.support.machine import pythons_of_minor

    found = pythons_of_minor(minor)
    for interpreter in found:
        prefix = Path(interpreter.path).resolve().parent.parent
        if packageable(prefix, minor):
            return prefix, interpreter.version, minor
    raise RuntimeError(f"the test conda channel repackages a self-contained CPython {minor} (the tests' own minor), but "
                       f"neither this venv's base {base} nor any other found ({[i.path for i in found]}) is one (a "
                       f"distribution's /usr is not): `uv python install {minor}` (or `pyenv install {minor}`) provides one")


def what_to_package() -> dict:
    """What the channel will hold, and the identity of its files (the cache key is a hash of this)."""
    prefix, version, minor = python_source()
    wheel = _pip_wheels(prefix, minor)[-1]
    stats = [(p.name, p.stat().st_size, p.stat().st_mtime_ns)
             for p in [prefix / "bin" / f"python{minor}", *sorted((prefix / "lib").glob("libpython*"))]]
    return {"python": version, "python_minor": minor, "pip": wheel.name.split("-")[1], "source": str(prefix),
            "pip_wheel": str(wheel), "files": stats}


def fingerprint(packaged: dict) -> str:
    """Changes when a recipe, what is packaged (interpreter, its files, pip wheel) or rattler-build changes."""
    from importlib.metadata import version

    digest = hashlib.sha256()
    for path in sorted(RECIPES.rglob("*.yaml")):
        digest.update(path.relative_to(RECIPES).as_posix().encode() + b"\0" + path.read_bytes())
    digest.update(json.dumps([packaged, version("py-rattler-build")], sort_keys=True).encode())
    return digest.hexdigest()[:16]


def cache_root() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "envforge-tests"


def packaged(channel: str | Path) -> dict:
    """What a channel built here holds (its packaged.json), from its directory or file:// URL."""
    path = Path(unquote(urlparse(channel).path)) if str(channel).startswith("file:") else Path(channel)
    manifest = path / PACKAGED
    if not manifest.is_file():
        raise RuntimeError(f"{path} has no {PACKAGED}: it is not a channel built by tests/support/conda_channel.py "
                           "(`python tests/support/conda_channel.py` builds one)")
    return json.loads(manifest.read_text())


def _members(prefix: Path, minor: str) -> str:
    """The interpreter's files to copy (relative to its prefix): a static build has no libpython."""
    names = [f"bin/python{minor}", f"lib/python{minor}", *(p.relative_to(prefix).as_posix() for p in sorted((prefix / "lib").glob("libpython*")))]
    names += ["include"] if (prefix / "include").is_dir() else []
    return " ".join(names)


def ensure_channel(root: Path | None = None) -> Path:
    """The channel directory (built on first use on this machine; concurrent callers build once)."""
    import filelock

    root = root or cache_root()
    want = what_to_package()
    target = root / f"conda-channel-{fingerprint(want)}"
    if (target / MARKER).is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(str(target) + ".lock", timeout=600):
        if (target / MARKER).is_file():
            return target
        work = root / f"{target.name}.building-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        minor = want["python_minor"]
        major, minor_number = minor.split(".")
        env = {**os.environ, "PY_SRC": want["source"], "PY_VERSION": want["python"], "PY_MINOR": minor,
               "PY_NODOT": major + minor_number, "PY_NEXT_MINOR": f"{major}.{int(minor_number) + 1}",
               "PY_MEMBERS": _members(Path(want["source"]), minor), "PIP_WHEEL": want["pip_wheel"], "PIP_VERSION": want["pip"]}
        for step in ("build", "index"):  # two processes: see the module docstring
            done = subprocess.run([sys.executable, __file__, f"--{step}", str(work)], env=env, capture_output=True,
                                  text=True, timeout=600)
            if done.returncode != 0:
                raise RuntimeError(f"building the test conda channel failed at {step}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        for leftover in ("bld", "src_cache", ".tmp", "rattler-build-log.txt"):
            path = work / leftover
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        (work / PACKAGED).write_text(json.dumps(want, indent=2) + "\n")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(work, target)
        (target / MARKER).write_text(fingerprint(want) + "\n")  # last: the channel is complete
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
