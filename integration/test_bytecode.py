"""envforge's bytecode store (envforge/store/bytecode.py) with real uv envs and real CPython imports.

uv hardlinks installed files from its cache; a .pyc compiled in one env is reused in the next
env only for a source file that is the very same inode. Each test gets its own uv cache under
tmp_path (same filesystem as its ENVFORGE_HOME) and a one-module wheel, so builds take ~1 s.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from envforge import interpreters
from envforge.backends.base import BuildOptions
from envforge.backends.run_options import RunOptions
from envforge.backends.uv import UvBackend, uv_bin
from envforge.building.cached_envs import get_env
from envforge.spec import EnvSpec
from envforge.store import bytecode
from envforge.store.layout import envs_dir
from tests.support.bytecode_store import private_bytecode_store
from tests.support.cli import envforge, report
from tests.support.models import make_wheel

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def _private_bytecode_store() -> Iterator[None]:
    """These tests read the store in their home (conftest's shared one would hold other tests' .pyc files)."""
    with private_bytecode_store():
        yield


SOURCE = "VALUE = 42\n\n\ndef where():\n    return where.__code__.co_filename\n"
PROBE = "import efbytepkg as m; print(m.VALUE, m.where() == m.__file__, m.__cached__)"
TAG = f"cpython-{''.join(platform.python_version_tuple()[:2])}"


@pytest.fixture
def wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A one-module wheel; ENVFORGE_HOME and a private uv cache (hardlink mode) under tmp_path."""
    monkeypatch.setenv("ENVFORGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    monkeypatch.setenv("UV_LINK_MODE", "hardlink")
    return make_wheel(tmp_path / "wheels", "efbytepkg", "1.0", SOURCE)


def build(wheel: Path, logs: list[str]) -> Path:
    """The real uv backend and env cache, as `envforge verify` uses them (seed included)."""
    spec = EnvSpec(backend="uv", python=platform.python_version(), python_source="test", build_dependencies=(),
                   requirements=(str(wheel),), constraints=(), index_options=(), code_wheels=(), file_hashes=())
    env = get_env(spec, wheel.parent, UvBackend(), BuildOptions(), logs.append, run=RunOptions())
    assert not env.reused
    return env.path


def raw_env(dest: Path, wheel: Path) -> Path:
    """`uv venv` + `uv pip install`, without envforge (so a test can edit files before seeding)."""
    uv, interpreter = uv_bin(), interpreters.choose(platform.python_version()).interpreter.path
    subprocess.run([uv, "venv", "-q", "--python", interpreter, str(dest)], check=True)
    subprocess.run([uv, "pip", "install", "-q", "--python", str(dest / "bin/python"), str(wheel)], check=True)
    return dest


def module(env: Path) -> tuple[Path, Path]:
    site = next((env / "lib").glob("python3.*/site-packages"))
    return site / "efbytepkg.py", site / "__pycache__" / f"efbytepkg.{TAG}.pyc"


def python(env: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(env / "bin/python"), "-I", *args], capture_output=True, text=True, check=True)


def stored_pyc(source: Path) -> Path:
    st = source.stat()
    return bytecode.store_dir(f"cpython-{platform.python_version()}") / f"{st.st_dev}-{st.st_ino}.pyc"


def test_next_env_gets_the_harvested_pyc_and_cpython_uses_it(wheel: Path) -> None:
    first = build(wheel, [])
    python(first, "-c", PROBE)  # the first import compiles and writes the .pyc
    assert bytecode.harvest(first) >= 1
    assert bytecode.harvest(first) == 0  # nothing new the second time
    shutil.rmtree(envs_dir())  # empty env cache, warm uv cache and bytecode store

    logs: list[str] = []
    second = build(wheel, logs)
    source, pyc = module(second)
    assert any("reused 1 compiled module(s)" in line for line in logs), logs
    before = pyc.stat()
    assert os.path.samestat(before, stored_pyc(source).stat())

    run = python(second, "-v", "-c", PROBE)
    assert run.stdout.split() == ["42", "True", str(pyc)]  # right value; tracebacks name this env's file
    assert f"# code object from '{pyc}'" in run.stderr  # loaded from the seeded .pyc, not compiled
    after = pyc.stat()
    assert os.path.samestat(after, before) and after.st_mtime_ns == before.st_mtime_ns  # not rewritten


def test_two_homes_share_the_store_named_by_envforge_bytecode_dir(wheel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """$ENVFORGE_BYTECODE_DIR: a CI job's new ENVFORGE_HOME still starts from the .pyc an earlier home harvested."""
    monkeypatch.setenv("ENVFORGE_BYTECODE_DIR", str(tmp_path / "machine-bytecode"))
    first = build(wheel, [])
    python(first, "-c", PROBE)
    assert bytecode.harvest(first) == 1
    assert stored_pyc(module(first)[0]).parent.parent == tmp_path / "machine-bytecode"
    assert not (tmp_path / "home" / "bytecode").exists()  # nothing in the home

    monkeypatch.setenv("ENVFORGE_HOME", str(tmp_path / "another-home"))
    logs: list[str] = []
    source, pyc = module(build(wheel, logs))
    assert any("reused 1 compiled module(s)" in line for line in logs), logs
    assert os.path.samestat(pyc.stat(), stored_pyc(source).stat())


def test_a_different_file_with_the_same_size_and_mtime_is_not_seeded(wheel: Path, tmp_path: Path) -> None:
    first = raw_env(tmp_path / "a", wheel)
    python(first, "-c", PROBE)
    assert bytecode.harvest(first) == 1

    second = raw_env(tmp_path / "b", wheel)
    source, pyc = module(second)
    st = source.stat()
    source.unlink()  # a copy, not the cached inode: same size and mtime, other content
    source.write_text(SOURCE.replace("42", "43"))
    os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert source.stat().st_size == st.st_size
    assert bytecode.seed(second) == 0
    # A store entry under the copy's inode number whose source is another file (a store restored
    # from a backup, or an inode number reused): names alone are never trusted.
    original, new = stored_pyc(module(first)[0]), stored_pyc(source)
    os.link(original, new)
    shutil.copy2(original.with_suffix(".py"), new.with_suffix(".py"))
    assert bytecode.seed(second) == 0
    assert not pyc.exists()
    assert python(second, "-c", PROBE).stdout.split()[0] == "43"  # the stored .pyc would have said 42
    assert bytecode.harvest(second) == 0  # a file not linked from the uv cache is never stored


def test_unusable_or_missing_store_never_fails_a_build(wheel: Path, tmp_path: Path) -> None:
    assert bytecode.seed(raw_env(tmp_path / "none", wheel)) == 0  # no store yet
    store = bytecode.store_dir(f"cpython-{platform.python_version()}")
    store.parent.mkdir(parents=True)
    store.write_text("not a directory")
    env = build(wheel, [])  # seed meets a broken store: the build still succeeds
    python(env, "-c", PROBE)
    assert bytecode.harvest(env) == 0
    assert module(env)[1].stat().st_nlink == 1


def test_read_only_store_still_seeds_and_harvest_does_not_raise(wheel: Path, tmp_path: Path) -> None:
    first = raw_env(tmp_path / "a", wheel)
    python(first, "-c", PROBE)
    assert bytecode.harvest(first) == 1
    store = bytecode.store_dir(f"cpython-{platform.python_version()}")
    for stored in store.iterdir():
        stored.unlink()  # empty, then read-only
    read_only(store)
    try:
        assert bytecode.harvest(first) == 0
    finally:
        writable(store)
    assert bytecode.harvest(first) == 1
    read_only(store)
    try:
        second = raw_env(tmp_path / "b", wheel)
        assert bytecode.seed(second) == 1  # reading a read-only store is fine
        assert python(second, "-c", PROBE).stdout.split()[0] == "42"
    finally:
        writable(store)


def read_only(path: Path) -> None:
    """chmod is ignored for root: use the immutable attribute there (ext4 and most Linux filesystems)."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True)
    else:
        path.chmod(0o555)
    with pytest.raises(OSError):
        (path / "probe").write_text("")


def writable(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], check=True)
    path.chmod(0o755)


def test_store_on_another_filesystem_is_skipped(wheel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = raw_env(tmp_path / "a", wheel)
    python(first, "-c", PROBE)
    other = Path("/dev/shm")
    assert other.stat().st_dev != tmp_path.stat().st_dev
    home = Path(os.path.realpath(other)) / f"envforge-test-{os.getpid()}"
    monkeypatch.setenv("ENVFORGE_HOME", str(home))
    try:
        assert bytecode.harvest(first) == 0
        assert bytecode.seed(first) == 0
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_verify_harvests_then_a_rebuilt_env_runs_on_seeded_pycs(sklearn_model: Path, home: Path, tmp_path: Path) -> None:
    """The benchmark's cold case: env cache emptied, uv cache and bytecode store kept."""
    assert envforge("record", str(sklearn_model), home=home).returncode == 0
    first = envforge("verify", str(sklearn_model), "--json", str(tmp_path / "1.json"), home=home)
    assert first.returncode == 0, first.output
    store = next((home / "bytecode").iterdir())
    assert len(list(store.glob("*.pyc"))) > 500  # mlflow, pandas, sklearn, ...
    shutil.rmtree(home / "envs")

    second = envforge("verify", str(sklearn_model), "--json", str(tmp_path / "2.json"), home=home)
    assert second.returncode == 0, second.output
    data = report(tmp_path / "2.json")
    assert data["status"] == "passed" and data["env"]["reused"] is False
    init = next(Path(data["env"]["path"]).glob("lib/python3.*/site-packages/sklearn/__init__.py"))
    pyc = init.parent / "__pycache__" / f"__init__.{TAG}.pyc"
    st = init.stat()
    assert os.path.samestat(pyc.stat(), (store / f"{st.st_dev}-{st.st_ino}.pyc").stat())  # seeded, and kept


def test_a_seeded_env_s_sandboxed_run_gets_what_the_store_lacked_compiled_into_it(sklearn_model: Path, home: Path, tmp_path: Path) -> None:
    """A new env the store seeded runs in the sandbox without -X pycache_prefix; the runner names the
    sources it imported without a .pyc (here the model's own estimator module, taken out of the store)
    and envforge compiles them into the read-only env (execution/pycache.py ListedCompiler)."""
    first = envforge("verify", str(sklearn_model), "--json", str(tmp_path / "1.json"), home=home)
    assert first.returncode == 0, first.output
    data = report(tmp_path / "1.json")
    assert data["sandbox"]["network"] is False  # sandboxed
    logistic = next(Path(data["env"]["path"]).glob("lib/python3.*/site-packages/sklearn/linear_model/_logistic.py"))
    store = next((home / "bytecode").iterdir())
    st = logistic.stat()
    (store / f"{st.st_dev}-{st.st_ino}.pyc").unlink()  # the store lacks it now
    shutil.rmtree(home / "envs")

    second = envforge("verify", str(sklearn_model), "--json", str(tmp_path / "2.json"), home=home)
    assert second.returncode == 0, second.output
    data = report(tmp_path / "2.json")
    assert data["env"]["reused"] is False and data["sandbox"]["network"] is False
    site = next(Path(data["env"]["path"]).glob("lib/python3.*/site-packages"))
    assert (site / "mlflow" / "__pycache__" / f"__init__.{TAG}.pyc").stat().st_nlink > 1  # seeded from the store
    compiled = site / "sklearn" / "linear_model" / "__pycache__" / f"_logistic.{TAG}.pyc"
    assert compiled.is_file()  # compiled by envforge after the run: the env is read-only in the sandbox
    assert (store / f"{st.st_dev}-{st.st_ino}.pyc").is_file()  # and harvested into the store again


def test_a_first_verify_in_an_empty_home_compiles_its_imports_ahead_into_the_env(sklearn_model: Path, home: Path, tmp_path: Path) -> None:
    """No store to seed from: while the sandboxed run imports, envforge compiles into the read-only env what
    the run is about to import (runner/compile_ahead.py, from scikit-learn and mlflow.pyfunc), then what the
    run still named; the report says how many each way, and the env ends with mlflow's and scikit-learn's .pyc."""
    first = envforge("verify", str(sklearn_model), "--json", str(tmp_path / "1.json"), home=home,
                     unset=("PYTHONDONTWRITEBYTECODE",))
    assert first.returncode == 0, first.output
    data = report(tmp_path / "1.json")
    assert data["env"]["reused"] is False and data["sandbox"]["network"] is False
    counts = data["sandbox"]["bytecode"]
    assert counts["compiled_ahead"] > 1000, counts  # mlflow's, pandas', scikit-learn's modules: ahead of the run
    assert counts["compiled_after"] < counts["compiled_ahead"], counts  # what no static import reached
    site = next(Path(data["env"]["path"]).glob("lib/python3.*/site-packages"))
    for source in ("mlflow/pyfunc/__init__.py", "sklearn/base.py", "sklearn/linear_model/_logistic.py"):
        path = site / source
        assert (path.parent / "__pycache__" / f"{path.stem}.{TAG}.pyc").is_file(), source
    assert not list(site.glob("**/__pycache__/*.tmp"))  # each .pyc written whole (renamed into place)

    again = envforge("verify", str(sklearn_model), "--json", str(tmp_path / "2.json"), home=home)
    assert again.returncode == 0, again.output
    assert "bytecode" not in report(tmp_path / "2.json")["sandbox"]  # a reused env compiles nothing
