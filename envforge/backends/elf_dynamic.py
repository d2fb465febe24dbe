"""DT_NEEDED and RPATH/RUNPATH of an ELF file, read with `struct` from a memory map (no pyelftools on the hot path).

backends/native_libs.py reads every `.so` of an env. pyelftools (pure Python, every field through `construct`) took
28.8 s for 10,888 files; reading the few fields needed with `struct` takes well under a second for the same answers.

The answer must be pyelftools' answer, so this reads what pyelftools' read (native_libs.read_elf) reads, the same
way: the section headers; for each SHT_DYNAMIC section its entries from sh_offset up to DT_NULL, and their strings in
the section its sh_link names (not DT_STRTAB: pyelftools only uses that when there is no such section). pyelftools
also builds every section while iterating, and some of them check things and fail the whole read (a relocation
section's entry size, a symbol table's link to a string table, a hash table's header inside the file); those checks
are repeated here. Anything this reader cannot answer with certainty (a truncated file, a header or an entry past the
end, compressed sections, extended section numbering, a string without its NUL, a section type it does not know on
an architecture where pyelftools parses it) is `UNSURE`, and the caller asks pyelftools.
"""

from __future__ import annotations

import mmap
import struct
from pathlib import Path

UNSURE = object()  # "ask pyelftools"
Answer = tuple[list[str], list[str]] | None

DT_NULL, DT_NEEDED, DT_RPATH, DT_RUNPATH = 0, 1, 15, 29
SHT_SYMTAB, SHT_STRTAB, SHT_RELA, SHT_HASH, SHT_DYNAMIC, SHT_NOBITS, SHT_REL, SHT_DYNSYM = 2, 3, 4, 5, 6, 8, 9, 11
SHT_SYMTAB_SHNDX, SHT_RELR = 18, 19
SHT_GNU_HASH, SHT_VERDEF, SHT_VERNEED, SHT_VERSYM = 0x6FFFFFF6, 0x6FFFFFFD, 0x6FFFFFFE, 0x6FFFFFFF
SHT_SUNW_LDYNSYM, SHT_SUNW_SYMINFO = 0x6FFFFFF3, 0x6FFFFFFC
SHF_COMPRESSED = 0x800
# Section types pyelftools makes a plain section of whatever they hold (nothing checked, nothing parsed).
_PLAIN = frozenset({0, 1, SHT_STRTAB, 7, SHT_NOBITS, 10, 14, 15, 16, 17, SHT_SYMTAB_SHNDX, 0x6FFFFFF5, 0x6FFFFFF7})
# e_machine values for which pyelftools parses a processor-specific section (ARM, RISC-V attributes).
_PARSED_PROC_MACHINES = frozenset({40, 243})


def read_dynamic(path: Path) -> Answer | object:
    """(DT_NEEDED, RPATH+RUNPATH entries), None when `path` is not an ELF file, or UNSURE."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
            if head != b"\x7fELF":
                return None
            try:
                data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError):
                return UNSURE
            with data:
                return _parse(data, len(data))
    except OSError:
        return UNSURE
    except (struct.error, IndexError, ValueError, OverflowError):
        return UNSURE


def _parse(data: mmap.mmap, size: int) -> Answer | object:
    if size < 64:
        return UNSURE
    ei_class, ei_data = data[4], data[5]
    if ei_class not in (1, 2) or ei_data not in (1, 2):
        return UNSURE  # pyelftools: ELFError, None; it says so itself
    wide, end = ei_class == 2, "<" if ei_data == 1 else ">"
    if wide:
        machine, = struct.unpack_from(end + "H", data, 18)
        shoff, = struct.unpack_from(end + "Q", data, 40)
        shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", data, 58)
        shdr = struct.Struct(end + "IIQQQQIIQQ")  # name type flags addr offset size link info addralign entsize
        dyn = struct.Struct(end + "qQ")
    else:
        machine, = struct.unpack_from(end + "H", data, 18)
        shoff, = struct.unpack_from(end + "I", data, 32)
        shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", data, 46)
        shdr = struct.Struct(end + "IIIIIIIIII")
        dyn = struct.Struct(end + "iI")
    if shoff == 0 or shnum == 0 or shentsize < shdr.size or shstrndx >= shnum:
        return UNSURE  # no section table, extended numbering, odd sizes: rare, pyelftools decides
    if shoff + (shnum - 1) * shentsize + shdr.size > size:
        return UNSURE
    headers = [shdr.unpack_from(data, shoff + i * shentsize) for i in range(shnum)]
    dynamics = []
    for header in headers:
        verdict = _check_section(header, headers, data, size, wide, end, machine)
        if verdict is not None:
            return verdict
        if header[1] == SHT_DYNAMIC:
            dynamics.append(header)
    needed: list[str] = []
    paths: list[str] = []
    for header in dynamics:
        link = header[6]
        if link >= shnum or headers[link][1] != SHT_STRTAB:
            return UNSURE
        strtab = headers[link][4]
        position = header[4]
        while True:
            if position + dyn.size > size:
                return UNSURE
            tag, value = dyn.unpack_from(data, position)
            position += dyn.size
            if tag == DT_NULL:
                break
            if tag in (DT_NEEDED, DT_RPATH, DT_RUNPATH):
                text = _string(data, size, strtab + value)
                if text is None:
                    return UNSURE
                if tag == DT_NEEDED:
                    needed.append(text)
                else:
                    paths += text.split(":")
    return needed, paths


def _check_section(header: tuple[int, ...], headers: list[tuple[int, ...]], data: mmap.mmap, size: int,
                   wide: bool, end: str, machine: int) -> object | None:
    """None when pyelftools builds this section without complaint; UNSURE otherwise (it may fail, or parse more)."""
    kind, flags, offset, length, link, entsize = header[1], header[2], header[4], header[5], header[6], header[9]
    if flags & SHF_COMPRESSED:
        return UNSURE
    if kind in _PLAIN or kind == SHT_DYNAMIC:
        return None
    linked = headers[link][1] if link < len(headers) else None
    if kind in (SHT_SYMTAB, SHT_DYNSYM, SHT_VERDEF, SHT_VERNEED):
        return None if linked == SHT_STRTAB else UNSURE
    if kind in (SHT_REL, SHT_RELA):
        expected = (16 if kind == SHT_REL else 24) if wide else (8 if kind == SHT_REL else 12)
        return None if entsize == expected else UNSURE
    if kind == SHT_RELR:
        return None if entsize == (8 if wide else 4) else UNSURE
    if kind in (SHT_VERSYM, SHT_HASH, SHT_GNU_HASH):
        if linked not in (SHT_SYMTAB, SHT_DYNSYM) or headers[link][2] & SHF_COMPRESSED:
            return UNSURE
        if kind == SHT_HASH:
            if length == 0:
                return None
            if offset + 8 > size:
                return UNSURE
            buckets, chains = struct.unpack_from(end + "II", data, offset)
            return None if offset + 8 + 4 * (buckets + chains) <= size else UNSURE
        if kind == SHT_GNU_HASH:
            if offset + 16 > size:
                return UNSURE
            buckets, _symoffset, bloom, _shift = struct.unpack_from(end + "IIII", data, offset)
            return None if offset + 16 + bloom * (8 if wide else 4) + 4 * buckets <= size else UNSURE
        return None
    if kind >= 0x70000000 and kind <= 0x7FFFFFFF and machine in _PARSED_PROC_MACHINES:
        return UNSURE
    if kind in (SHT_SUNW_LDYNSYM, SHT_SUNW_SYMINFO):
        return UNSURE
    return None


def _string(data: mmap.mmap, size: int, position: int) -> str | None:
    if position >= size:
        return None
    stop = data.find(b"\x00", position)
    if stop < 0:
        return None
    return data[position:stop].decode("utf-8", errors="replace")
