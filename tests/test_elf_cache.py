"""backends/elf_cache.py: a reused env's shared objects are not parsed again, a changed one is, and what the
machine provides is looked up on every call. Real shared objects, built with gcc (tests/test_native_libs.py)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from envforge.backends import elf_cache
from envforge.backends.native_libs import missing_libraries, read_elf
from tests.test_native_libs import _build


def _counting(reads: list[Path]):
    def read(path: Path):
        reads.append(path)
        return read_elf(path)
    return read


def test_a_reused_env_is_read_from_the_cache_and_a_changed_file_again(tmp_path: Path) -> None:
    env, ext = _build(tmp_path)
    reads: list[Path] = []
    first = elf_cache.read_all(env, [ext], _counting(reads))
    assert first[ext] == read_elf(ext) and reads == [ext]
    assert elf_cache.read_all(env, [ext], _counting(reads)) == first and reads == [ext]  # kept: not parsed again

    # The extension rebuilt without its dependency (another size): read again, and the answer is the new one.
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(ext), "-x", "c", "-"], input=b"int ext(void) { return 1; }\n", check=True)
    again = elf_cache.read_all(env, [ext], _counting(reads))
    assert reads == [ext, ext] and again[ext] is not None and again[ext][0] != first[ext][0]
    os.utime(ext, ns=(1, 1))  # same size, another mtime: read again
    elf_cache.read_all(env, [ext], _counting(reads))
    assert len(reads) == 3


def test_the_machine_is_asked_every_time_and_a_broken_cache_is_no_cache(tmp_path: Path) -> None:
    env, _ext = _build(tmp_path)
    assert [m.library for m in missing_libraries(env)] == ["libenvforgetest.so.1"]  # on no loader path; fills the cache
    assert (env / elf_cache.CACHE).is_file()
    missing = missing_libraries(env, extra_dirs=(str(tmp_path / "build"),))
    assert missing == []  # the library found in a directory given now: not an answer kept from before
    (tmp_path / "build" / "libenvforgetest.so.1").unlink()
    assert [m.library for m in missing_libraries(env)] == ["libenvforgetest.so.1"]
    (env / elf_cache.CACHE).write_text("{not json")
    assert [m.library for m in missing_libraries(env)] == ["libenvforgetest.so.1"]
    assert json.loads((env / elf_cache.CACHE).read_text())["version"] == elf_cache.VERSION  # rewritten


def test_a_new_env_of_the_same_hardlinked_files_is_not_parsed_again_but_a_copy_is(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ENVFORGE_HOME", str(tmp_path / "home"))
    env, ext = _build(tmp_path)
    reads: list[Path] = []
    first = elf_cache.read_all(env, [ext], _counting(reads))
    linked, copied = tmp_path / "env-linked" / ext.name, tmp_path / "env-copied" / ext.name
    linked.parent.mkdir()
    copied.parent.mkdir()
    os.link(ext, linked)  # as uv installs from its cache: the same inode in a new env
    copied.write_bytes(ext.read_bytes())
    assert elf_cache.read_all(linked.parent, [linked], _counting(reads))[linked] == first[ext]
    assert reads == [ext]  # known machine-wide by its inode: not parsed again
    assert elf_cache.read_all(copied.parent, [copied], _counting(reads))[copied] == first[ext] and reads == [ext, copied]
    # The shared inode rewritten in place (another size): every env sees the new answer, read once more.
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(tmp_path / "new.so"), "-x", "c", "-"], input=b"int ext(void) { return 1; }\n", check=True)
    ext.write_bytes((tmp_path / "new.so").read_bytes())
    again = elf_cache.read_all(linked.parent, [linked], _counting(reads))
    assert reads == [ext, copied, linked] and again[linked][0] != first[ext][0]
