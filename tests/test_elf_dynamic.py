"""backends/elf_dynamic.py: the `struct` reader of DT_NEEDED/RPATH/RUNPATH gives pyelftools' answers.

Compared on every real shared object installed in this test venv (numpy, scipy, sklearn...), on truncated and
non-ELF files, and on small ELF files crafted here in all four classes/byte orders (32/64-bit, little/big endian)."""

from __future__ import annotations

import os
import struct
import sysconfig
from pathlib import Path

from envforge.backends import elf_dynamic
from envforge.backends.native_libs import read_elf, read_elf_pyelftools


def _shared_objects(root: Path) -> list[Path]:
    found = [Path(r) / n for r, _d, names in os.walk(root) for n in names if n.endswith(".so") or ".so." in n]
    return sorted(p for p in found if p.is_file() and not p.is_symlink())


def test_every_shared_object_of_the_venv_reads_as_pyelftools_reads_it() -> None:
    files = _shared_objects(Path(sysconfig.get_paths()["platlib"]))
    assert len(files) >= 200, files  # numpy, scipy, sklearn, pyarrow... are installed in the test venv
    unsure = 0
    for path in files:
        fast = elf_dynamic.read_dynamic(path)
        reference = read_elf_pyelftools(path)
        if fast is elf_dynamic.UNSURE:
            unsure += 1
        else:
            assert fast == reference, path
        assert read_elf(path) == reference, path
    assert unsure <= len(files) // 20, f"{unsure} of {len(files)} files left to pyelftools"
    assert any(read_elf(p) and read_elf(p)[1] for p in files), "no file with an RPATH/RUNPATH was compared"


def test_truncated_empty_and_non_elf_files_answer_as_pyelftools(tmp_path: Path) -> None:
    real = next(p for p in _shared_objects(Path(sysconfig.get_paths()["platlib"])) if p.stat().st_size > 20000)
    blob = real.read_bytes()
    cuts = [0, 3, 4, 16, 40, 63, 64, 200, 4096, len(blob) // 2, len(blob) - 100, len(blob) - 1]
    for cut in cuts:
        path = tmp_path / f"cut{cut}.so"
        path.write_bytes(blob[:cut])
        assert read_elf(path) == read_elf_pyelftools(path), cut
    assert read_elf(tmp_path / "cut0.so") is None
    text = tmp_path / "notes.so"
    text.write_text("not an ELF file\n")
    assert read_elf(text) is None and elf_dynamic.read_dynamic(text) is None
    odd = tmp_path / "odd.so"
    odd.write_bytes(b"\x7fELF\x03\x01" + bytes(100))  # invalid EI_CLASS
    assert read_elf(odd) == read_elf_pyelftools(odd) is None


def _crafted(wide: bool, little: bool, strings_past_end: bool = False) -> bytes:
    """A minimal ELF: sections NULL, .dynstr, .dynamic (NEEDED x2, RPATH, RUNPATH, NULL), .shstrtab."""
    end = "<" if little else ">"
    dynstr = b"\x00libfoo.so.1\x00libbar.so\x00$ORIGIN/../lib:/opt/x\x00/run/path\x00"
    needed1, needed2 = 1, dynstr.index(b"libbar")
    rpath, runpath = dynstr.index(b"$ORIGIN"), dynstr.index(b"/run")
    shstr = b"\x00.dynstr\x00.dynamic\x00.shstrtab\x00"
    dyn_fmt = end + ("qQ" if wide else "iI")
    entries = [(1, needed1), (15, rpath), (1, needed2), (29, runpath), (0, 0)]
    dynamic = b"".join(struct.pack(dyn_fmt, tag, value) for tag, value in entries)
    ehsize, shentsize = (64, 64) if wide else (52, 40)
    off_dynstr = ehsize
    off_dynamic = off_dynstr + len(dynstr) + (-(off_dynstr + len(dynstr)) % 8)
    off_shstr = off_dynamic + len(dynamic)
    shoff = off_shstr + len(shstr) + (-(off_shstr + len(shstr)) % 8)
    ident = b"\x7fELF" + bytes([2 if wide else 1, 1 if little else 2, 1]) + bytes(9)
    if wide:
        header = ident + struct.pack(end + "HHIQQQIHHHHHH", 3, 62, 1, 0, 0, shoff, 0, ehsize, 56, 0, shentsize, 4, 3)
        shdr = end + "IIQQQQIIQQ"
    else:
        header = ident + struct.pack(end + "HHIIIIIHHHHHH", 3, 3, 1, 0, 0, shoff, 0, ehsize, 32, 0, shentsize, 4, 3)
        shdr = end + "IIIIIIIIII"
    dynstr_offset = 10**6 if strings_past_end else off_dynstr
    sections = [struct.pack(shdr, *([0] * 10)),
                struct.pack(shdr, shstr.index(b".dynstr"), 3, 2, 0, dynstr_offset, len(dynstr), 0, 0, 1, 0),
                struct.pack(shdr, shstr.index(b".dynamic"), 6, 3, 0, off_dynamic, len(dynamic), 1, 0, 8, 16 if wide else 8),
                struct.pack(shdr, shstr.index(b".shstrtab"), 3, 0, 0, off_shstr, len(shstr), 0, 0, 1, 0)]
    body = bytearray(header.ljust(ehsize, b"\x00"))
    body += dynstr.ljust(off_dynamic - off_dynstr, b"\x00") + dynamic + shstr.ljust(shoff - off_shstr, b"\x00")
    return bytes(body + b"".join(sections))


def test_crafted_32_and_64_bit_little_and_big_endian_files(tmp_path: Path) -> None:
    for wide in (False, True):
        for little in (False, True):
            path = tmp_path / f"crafted-{wide}-{little}.so"
            path.write_bytes(_crafted(wide, little))
            expected = (["libfoo.so.1", "libbar.so"], ["$ORIGIN/../lib", "/opt/x", "/run/path"])
            assert read_elf_pyelftools(path) == expected, (wide, little)
            assert elf_dynamic.read_dynamic(path) == expected, (wide, little)  # answered without pyelftools
            broken = tmp_path / f"broken-{wide}-{little}.so"
            broken.write_bytes(_crafted(wide, little, strings_past_end=True))
            assert elf_dynamic.read_dynamic(broken) is elf_dynamic.UNSURE  # a string with no NUL: left to pyelftools
            assert read_elf(broken) == read_elf_pyelftools(broken)


def test_read_elf_asks_pyelftools_only_when_the_fast_reader_is_unsure(tmp_path: Path, monkeypatch) -> None:
    from envforge.backends import native_libs

    asked: list[Path] = []
    reference = native_libs.read_elf_pyelftools
    monkeypatch.setattr(native_libs, "read_elf_pyelftools", lambda path: asked.append(path) or reference(path))
    good, broken = tmp_path / "good.so", tmp_path / "broken.so"
    good.write_bytes(_crafted(True, True))
    broken.write_bytes(_crafted(True, True, strings_past_end=True))
    assert native_libs.read_elf(good) == (["libfoo.so.1", "libbar.so"], ["$ORIGIN/../lib", "/opt/x", "/run/path"])
    assert asked == []
    assert native_libs.read_elf(broken) == reference(broken)
    assert asked == [broken]
