"""Reuse CPython's .pyc files across envs whose source files are the same inode.

uv installs packages by hardlinking files from its cache, so a package version installed in two
envs is the same inode in both. A timestamp-based .pyc is valid for a source whose mtime and size
match its header, and CPython rewrites the code's file name to the real path when it loads one, so
a .pyc compiled in env A is right for env B when B's source *is* A's source file (same inode).

The store, $ENVFORGE_HOME/bytecode/cpython-<X.Y.Z>/ (or under $ENVFORGE_BYTECODE_DIR), holds per source inode `<dev>-<ino>.py`, a
hardlink to the source itself (it pins the inode, so the number cannot be reused for other content
while the store holds it), and `<dev>-<ino>.pyc`. `harvest` fills it from a freshly built env after
its first run; `seed` links stored .pyc files into a new env. Both are best effort: any OSError
(read-only store, other filesystem, link limits) means fewer .pyc files, never a failed build.
CPython still checks every .pyc header; a stale one is recompiled and replaced atomically (a new
file), so the shared one is never written to.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from envforge.store.layout import bytecode_dir

log = logging.getLogger(__name__)
_HEADER = 16  # magic, flags, source mtime, source size


def store_dir(name: str) -> Path:
    return bytecode_dir(name)


def env_layout(env_dir: Path) -> tuple[Path, str, str] | None:
    """(site-packages, store name, cache tag) of a CPython venv, from its pyvenv.cfg, else None.
    For a conda env (conda-meta/, no pyvenv.cfg) the first is its whole lib/pythonX.Y.
    The store is per exact version (cpython-3.11.7): .pyc files from an interpreter with another
    magic number would be rejected, recompiled, and never replaced in the store."""
    try:
        lines = (env_dir / "pyvenv.cfg").read_text().splitlines()
    except OSError:
        lines = _conda_python(env_dir)
        if lines is None:
            return None
    cfg = {k.strip(): v.strip() for k, _, v in (line.partition("=") for line in lines)}
    version = (cfg.get("version_info") or cfg.get("version") or "").split(".")[:3]
    if cfg.get("implementation", "CPython") != "CPython" or len(version) < 3 or not all(p.isdigit() for p in version):
        return None
    site = env_dir / "lib" / f"python{version[0]}.{version[1]}" / "site-packages"
    if cfg.get("conda"):  # a conda env's standard library is linked from py-rattler's package cache too
        site = site.parent
    store, tag = f"cpython-{'.'.join(version)}", f"cpython-{version[0]}{version[1]}"
    return (site, store, tag) if site.is_dir() else None


def seeded(env_dir: Path) -> bool:
    """The bytecode store seeded this env: its mlflow has .pyc files before any run (a run would have compiled them)."""
    mlflow = _mlflow_dir(env_dir)
    try:
        return mlflow is not None and any(name.endswith(".pyc") for name in os.listdir(mlflow / "__pycache__"))
    except OSError:
        return False


def shared_files(env_dir: Path) -> str | None:
    """What a new env shares with another one whose bytecode would serve it: the store (the exact CPython) and
    the inode of its mlflow/__init__.py (the same mlflow files, linked from one package cache). None when unknown."""
    layout, mlflow = env_layout(env_dir), _mlflow_dir(env_dir)
    try:
        source = os.stat(mlflow / "__init__.py") if layout and mlflow else None
    except OSError:
        return None
    return f"{layout[1]}/{source.st_dev}-{source.st_ino}" if layout and source else None


def _mlflow_dir(env_dir: Path) -> Path | None:
    layout = env_layout(env_dir)
    if layout is None:
        return None
    for site in (layout[0], layout[0] / "site-packages"):  # a venv's site-packages; a conda env's lib/pythonX.Y
        if (site / "mlflow").is_dir():
            return site / "mlflow"
    return None


def _conda_python(env_dir: Path) -> list[str] | None:
    """A conda env (no pyvenv.cfg): its `python` package's version from conda-meta/, as a pyvenv.cfg line."""
    import json

    for record in sorted((env_dir / "conda-meta").glob("python-[0-9]*.json")):
        try:
            return [f"version = {json.loads(record.read_text()).get('version', '')}", "conda = 1"]
        except (OSError, ValueError):
            return None
    return None


def _open_store(env_dir: Path, *, create: bool) -> tuple[Path, Path, str, set[str]] | None:
    """(site-packages, store, cache tag, stems already stored) for env_dir, or None when there is no
    store to use: an unknown layout, a store on another filesystem (no hardlinks), an OSError."""
    layout = env_layout(env_dir)
    if layout is None:
        return None
    site, store_name, tag = layout
    store = store_dir(store_name)
    try:
        if create:
            store.mkdir(parents=True, exist_ok=True)
        if os.stat(site).st_dev != os.stat(store).st_dev:
            return None
        have = {name[:-4] for name in os.listdir(store) if name.endswith(".pyc")}
    except OSError as exc:
        log.debug("bytecode store %s unusable: %s", store, exc)
        return None
    return Path(site), store, tag, have


def harvest(env_dir: Path) -> int:
    """Add the env's new .pyc files (for sources hardlinked from a package cache) to the store.
    Returns how many were added; never raises OSError."""
    opened = _open_store(env_dir, create=True)
    if opened is None:
        return 0
    site, store, tag, have = opened
    suffix = f".{tag}.pyc"
    added = 0
    for dirpath, _dirs, files in os.walk(site):
        if os.path.basename(dirpath) != "__pycache__":
            continue
        for name in files:
            if name.endswith(suffix):
                added += _harvest_one(Path(dirpath), name[: -len(suffix)], suffix, store, have)
    if added:
        log.debug("bytecode store %s: %d .pyc file(s) added from %s", store, added, env_dir)
    return added


def _harvest_one(cache: Path, stem: str, suffix: str, store: Path, have: set[str]) -> int:
    source, pyc = cache.parent / f"{stem}.py", cache / f"{stem}{suffix}"
    try:
        src = os.stat(source, follow_symlinks=False)
        key = f"{src.st_dev}-{src.st_ino}"
        if key in have or src.st_nlink < 2 or os.stat(pyc).st_nlink > 1:
            return 0  # already stored, not from a package cache, or itself seeded
        if not _header_matches(pyc, src):
            return 0
        try:
            os.link(source, store / f"{key}.py")
        except FileExistsError:
            if not os.path.samestat(os.stat(store / f"{key}.py"), src):
                return 0
        os.link(pyc, store / f"{key}.pyc")  # the env's .pyc was written atomically: complete
    except FileExistsError:
        return 0  # another process stored it first
    except OSError as exc:
        log.debug("bytecode: not storing %s: %s", pyc, exc)
        return 0
    have.add(key)
    return 1


def _header_matches(pyc: Path, src: os.stat_result) -> bool:
    """A timestamp-based .pyc whose header names this source's mtime and size."""
    with open(pyc, "rb") as handle:
        header = handle.read(_HEADER)
    if len(header) < _HEADER:
        return False
    flags, mtime, size = (int.from_bytes(header[i : i + 4], "little") for i in (4, 8, 12))
    return flags == 0 and mtime == int(src.st_mtime) & 0xFFFFFFFF and size == src.st_size & 0xFFFFFFFF


def seed(env_dir: Path) -> int:
    """Hardlink stored .pyc files into the env, for each source that is the stored source's inode.
    Returns how many were linked; never raises OSError."""
    opened = _open_store(env_dir, create=False)
    if opened is None:
        return 0
    site, store, tag, have = opened
    seeded, stack = 0, [str(site)]
    while have and stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name != "__pycache__":
                    stack.append(entry.path)
            elif entry.name.endswith(".py"):
                seeded += _seed_one(entry, store, tag, have)
    log.debug("bytecode: seeded %d .pyc file(s) into %s", seeded, env_dir)
    return seeded


def _seed_one(entry: os.DirEntry[str], store: Path, tag: str, have: set[str]) -> int:
    try:
        src = entry.stat(follow_symlinks=False)  # not the d_ino: overlay filesystems may differ
        key = f"{src.st_dev}-{src.st_ino}"
        if key not in have or not os.path.samestat(os.stat(store / f"{key}.py"), src):
            return 0
        cache = Path(entry.path).parent / "__pycache__"
        cache.mkdir(exist_ok=True)
        os.link(store / f"{key}.pyc", cache / f"{entry.name[:-3]}.{tag}.pyc")
    except OSError as exc:  # FileExistsError included: a .pyc is already there
        log.debug("bytecode: not seeding %s: %s", entry.path, exc)
        return 0
    return 1
