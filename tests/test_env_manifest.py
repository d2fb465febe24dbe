"""A built env's manifest (store/env_manifest.py) and its check on reuse (store/env_check.py), on a real env:
a `uv venv` with a real wheel installed by uv (its own RECORD), no network."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from envforge.store import env_check
from envforge.store.env_manifest import MANIFEST, build_manifest, read_manifest, write_manifest
from tests.support.models import make_wheel

UV = str(Path(sys.executable).parent / "uv")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real env: uv's venv with a local wheel installed (uv writes its RECORD, INSTALLER, ...)."""
    root = tmp_path_factory.mktemp("manifest")
    wheel = make_wheel(root / "wheels", "tinypkg", "1.0", "VALUE = 41\n" * 50)
    dest = root / "env"
    subprocess.run([UV, "venv", "-q", "--python", sys.executable, str(dest)], check=True)
    subprocess.run([UV, "pip", "install", "-q", "--offline", "--python", str(dest / "bin" / "python"), str(wheel)],
                   check=True, env={"PATH": "/usr/bin:/bin", "UV_NO_CONFIG": "1", "HOME": str(root)})
    return dest


def _site(env: Path) -> Path:
    return next(env.glob("lib/python*/site-packages"))


def test_the_manifest_lists_each_installed_file_with_the_hash_its_record_gives(env: Path) -> None:
    count = write_manifest(env)
    files = {entry[0]: entry for entry in read_manifest(env) or []}
    module = str((_site(env) / "tinypkg.py").relative_to(env))
    assert count == len(files) and module in files
    data = (_site(env) / "tinypkg.py").read_bytes()
    assert files[module][1:] == [len(data), hashlib.sha256(data).hexdigest()]
    record = next(p for p in files if p.endswith("tinypkg-1.0.dist-info/RECORD"))  # no hash in RECORD: hashed here
    assert files[record][2] == hashlib.sha256((env / record).read_bytes()).hexdigest()
    assert not any(p.endswith(".pyc") for p in files)
    assert json.loads((env / MANIFEST).read_text())["version"] == 1


def test_an_intact_env_passes_both_checks(env: Path) -> None:
    write_manifest(env)
    assert env_check.damage(env) is None and env_check.damage(env, check=True) is None


def test_a_deleted_file_is_named_by_the_cheap_check(env: Path) -> None:
    write_manifest(env)
    module = _site(env) / "tinypkg.py"
    saved = module.read_bytes()
    module.unlink()
    try:
        why = env_check.damage(env)
        assert why is not None and "1 file(s) missing" in why and "tinypkg.py" in why
    finally:
        module.write_bytes(saved)
    assert env_check.damage(env) is None


def test_a_same_size_change_needs_check_and_a_size_change_does_not(env: Path) -> None:
    write_manifest(env)
    module = _site(env) / "tinypkg.py"
    saved = module.read_bytes()
    try:
        module.write_bytes(saved.replace(b"41", b"42", 1))  # same size, other bytes
        assert env_check.damage(env) is None  # the cheap check reads no file
        why = env_check.damage(env, check=True)
        assert why is not None and "changed (size or sha256 differs: " in why and "tinypkg.py" in why
        module.write_bytes(saved + b"# more\n")
        why = env_check.damage(env)
        assert why is not None and "changed (size differs: " in why
    finally:
        module.write_bytes(saved)


def test_an_env_without_manifest_is_not_judged(env: Path, tmp_path: Path) -> None:
    assert env_check.damage(tmp_path) is None  # an env built before manifests: reused as before
    (tmp_path / MANIFEST).write_text("{not json")
    assert read_manifest(tmp_path) is None and env_check.damage(tmp_path, check=True) is None


def test_a_record_that_does_not_match_the_file_is_hashed_not_trusted(env: Path) -> None:
    """An installer that rewrote a file after recording it (the size differs): the manifest has the file's real hash."""
    module = _site(env) / "tinypkg.py"
    saved = module.read_bytes()
    try:
        module.write_bytes(saved + b"# rewritten at install\n")
        entry = next(e for e in build_manifest(env) if str(e[0]).endswith("tinypkg.py"))
        assert entry[2] == hashlib.sha256(module.read_bytes()).hexdigest()
    finally:
        module.write_bytes(saved)


def test_the_cheap_check_of_many_files_reads_none_of_them(env: Path, tmp_path: Path) -> None:
    """The default check on every reuse reads no file, only sizes and mtimes (its cost is measured in bench/, not here):
    a file rewritten in place with the same size and mtime passes it, and only --check's hashes see it."""
    site = tmp_path / "lib" / "python3.11" / "site-packages"
    pkg, dist = site / "many", site / "many-1.0.dist-info"
    pkg.mkdir(parents=True)
    dist.mkdir()
    rows = []
    for i in range(5_000):
        (pkg / f"m{i}.py").write_bytes(b"x = 1\n")
        rows.append(f"many/m{i}.py,sha256=,6")
    (dist / "RECORD").write_text("\n".join(rows) + "\n")
    assert write_manifest(tmp_path) == 5_000
    assert env_check.damage(tmp_path) is None
    victim = pkg / "m4321.py"
    stat = victim.stat()
    victim.write_bytes(b"x = 2\n")  # same size
    os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert env_check.damage(tmp_path) is None  # not read
    assert "many/m4321.py" in (env_check.damage(tmp_path, check=True) or "")


def test_a_rebuild_that_brings_the_damage_back_is_an_error_naming_the_cache(env: Path) -> None:
    """uv hard-links installed files from its cache: a file changed in place there comes back with the rebuild."""
    from envforge.errors import EXIT_ENV, EnvBuildError

    write_manifest(env)
    module = _site(env) / "tinypkg.py"
    saved = module.read_bytes()
    try:
        module.write_bytes(saved.replace(b"41", b"43", 1))
        with pytest.raises(EnvBuildError) as failed:
            env_check.confirm_rebuilt(env, "1 file(s) changed")
        assert "tinypkg.py" in failed.value.message and "uv cache clean" in failed.value.remedy
        assert failed.value.exit_code == EXIT_ENV
    finally:
        module.write_bytes(saved)
    env_check.confirm_rebuilt(env, "1 file(s) missing")  # intact: nothing raised
