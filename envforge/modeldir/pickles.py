"""What a model's pickles will import, read statically: nothing is unpickled, in any process.

A pickle names every module it imports: its GLOBAL/STACK_GLOBAL/INST opcodes, and the arguments of
cloudpickle's `subimport('keras')` (how cloudpickle pickles a module object). picklescan (a small,
dependency-free scanner with a maintained list of dangerous callables) reads the globals, pickle
files, joblib files and zip archives (PyTorch) alike; fickling was the other candidate, but it
decompiles pickles into Python ASTs, which is more than this needs, and carries no such list. The
`subimport` arguments are strings, not globals, so a short pickletools pass (pickletools disassembles,
never executes) reads them.

`scan(model_dir)` -> PickleScan: the top-level modules imported, and the dangerous callables named
(os.system, subprocess.*, builtins.eval/exec...), which envforge reports but never runs itself.
"""

from __future__ import annotations

import functools
import io
import logging
import pickletools
from dataclasses import dataclass, field
from pathlib import Path

from envforge.bounds import limits

# Files read as pickles: MLflow's sklearn/pyfunc flavors write model.pkl / python_model.pkl (cloudpickle),
# joblib and other flavors their own suffixes. Bigger files are not read (their globals are in the first
# bytes, but a bound keeps inspect quick).
SUFFIXES = (".pkl", ".pickle", ".joblib", ".cloudpickle", ".pt", ".pth", ".sav", ".statsmodels")
MAX_FILES = 200
MAX_BYTES = 2 * 1024 * 1024 * 1024

# The callables picklescan calls dangerous that an ordinary MLflow model needs: cloudpickle rebuilds a
# pyfunc's functions and classes with them (CodeType, _make_function, subimport), pickle itself reaches
# bound methods with getattr. Reported, they would flag every python_model.pkl.
_ORDINARY = {("builtins", "getattr"), ("__builtin__", "getattr"), ("types", "CodeType"), ("functools", "partial"),
             ("copyreg", "_reconstructor")}
_ORDINARY_MODULES = ("cloudpickle", "joblib", "torch", "_codecs")
_SUBIMPORT = {"subimport", "_import_module"}  # cloudpickle.cloudpickle.subimport(name): imports the module `name`


@dataclass(frozen=True)
class PickleScan:
    files: tuple[str, ...] = ()                       # the pickles read, relative to the model dir
    modules: dict[str, tuple[str, ...]] = field(default_factory=dict)  # top-level module -> files importing it
    dangerous: tuple[str, ...] = ()                   # "os.system (in model.pkl)"
    unreadable: tuple[str, ...] = ()                  # "model.pkl: why" (not a pickle, too big, a broken stream)


def _candidates(model_dir: Path) -> list[Path]:
    found = []
    for path in limits.walk_files(model_dir, "the model directory"):
        if path.name.lower().endswith(SUFFIXES) and not path.is_symlink():
            found.append(path)
    return sorted(found)[:MAX_FILES]


def scan(model_dir: Path) -> PickleScan:
    """The model's pickles, statically. Never raises on a malformed pickle: it lands in `unreadable`."""
    model_dir = model_dir.resolve()
    return _scan_cached(model_dir, tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in _candidates(model_dir)))


@functools.lru_cache(maxsize=16)
def _scan_cached(model_dir: Path, files: tuple[tuple[str, int, int], ...]) -> PickleScan:
    modules: dict[str, list[str]] = {}
    dangerous: list[str] = []
    unreadable: list[str] = []
    read: list[str] = []
    for name, _mtime, size in files:
        path = Path(name)
        rel = path.relative_to(model_dir).as_posix()
        if size > MAX_BYTES:
            unreadable.append(f"{rel}: larger than {MAX_BYTES // 2**20} MB, not read")
            continue
        data = path.read_bytes()
        globals_, why = _globals(data, rel)
        if why:
            unreadable.append(f"{rel}: {why}")
        if not globals_ and why:
            continue
        read.append(rel)
        for module, attr, is_dangerous in globals_:
            modules.setdefault(module.split(".")[0], []).append(rel)
            if is_dangerous and (module, attr) not in _ORDINARY and not module.startswith(_ORDINARY_MODULES):
                dangerous.append(f"{module}.{attr} (in {rel})")
        for module in _subimports(data):
            modules.setdefault(module.split(".")[0], []).append(rel)
    return PickleScan(tuple(read), {m: tuple(dict.fromkeys(f)) for m, f in sorted(modules.items()) if m},
                      tuple(dict.fromkeys(dangerous)), tuple(unreadable))


def _globals(data: bytes, rel: str) -> tuple[list[tuple[str, str, bool]], str | None]:
    """(module, name, dangerous) for every global the file names (picklescan), and why it could not all be read."""
    from picklescan.scanner import SafetyLevel, scan_bytes

    logger = logging.getLogger("picklescan")
    level, logger.level = logger.level, logging.CRITICAL + 1  # its findings are ours to report, not its log's
    try:
        result = scan_bytes(io.BytesIO(data), rel, "." + rel.rsplit(".", 1)[-1])
    except Exception as exc:  # picklescan raises on streams it cannot parse at all
        return [], f"not a readable pickle ({type(exc).__name__})"
    finally:
        logger.level = level
    found = [(g.module, g.name, g.safety == SafetyLevel.Dangerous) for g in result.globals]
    return found, ("the pickle stream broke off; what came before it was read" if result.scan_err else None)


def _subimports(data: bytes) -> list[str]:
    """The module names cloudpickle's subimport(...) is called with: the string pushed right after the
    global (or the memo entry holding it)."""
    strings: list[str] = []
    memo: dict[int, object] = {}
    pending = False
    found: list[str] = []
    last: object = None
    try:
        for opcode, arg, _pos in pickletools.genops(io.BytesIO(data)):
            name = opcode.name
            value: object = None
            if name in ("GLOBAL", "INST"):
                value = ("global", str(arg).split(" ")[-1])
            elif name == "STACK_GLOBAL":
                value = ("global", strings[-1] if strings else "")
            elif isinstance(arg, str) and "UNICODE" in name or name in ("STRING", "BINSTRING", "SHORT_BINSTRING"):
                strings.append(str(arg))
                value = ("str", str(arg))
                if pending:
                    found.append(str(arg))
                    pending = False
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[int(arg)] = last
            elif name == "MEMOIZE":
                memo[len(memo)] = last
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                value = memo.get(int(arg))
                if isinstance(value, tuple) and value[0] == "str":
                    strings.append(str(value[1]))
                    if pending:
                        found.append(str(value[1]))
                        pending = False
            if isinstance(value, tuple) and value[0] == "global" and value[1] in _SUBIMPORT:
                pending = True
            if name not in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
                last = value
    except Exception:  # a stream that breaks off (joblib's arrays follow the pickle): keep what was read
        pass
    return [m for m in found if m.replace(".", "").replace("_", "").isalnum()]
