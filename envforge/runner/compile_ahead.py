"""Compile, ahead of a new env's first run, the modules that run is about to import.

Executed by the env's own Python outside the sandbox, without site (nothing of the env runs):

    python -I -S compile_ahead.py STOP_FILE ENV_ROOT SEARCH_DIR... -- ROOT_MODULE...

It follows the imports of the ROOT_MODULEs statically, depth first in the order their code runs them
(read off the bytecode of a module's body and its class bodies: not its functions', which run only
when called; an import under `if TYPE_CHECKING:` counts too), finds each module as the import system
would (this Python's own path, then SEARCH_DIRs: the env's site-packages), and writes the .pyc of
every source under ENV_ROOT that has none, as CPython's own import writes it: the sandboxed run, which
cannot write into the env, then reads them instead of compiling.
It compiles what it reads, never runs it. It stops at the next module once STOP_FILE exists (envforge
makes it when the run ends: what is left is compiled from the run's own list). Prints how many .pyc it
wrote, on stdout, as it exits. Standard library only, and the syntax of Python 3.6.
"""

import importlib.machinery
import importlib.util
import marshal
import opcode
import os
import sys
import types

SOURCE_LIMIT = 16 * 1024 * 1024  # a larger "module" is not one the run will import quickly: skipped


class Finder:
    """Where module sources are, by name, as the path-based import finds them (packages, namespace
    packages, extension modules, which need no compiling), with a listing per directory."""

    def __init__(self, search):
        self.search = search
        self.listings = {}
        self.found = {}  # name -> (source or None, [package dirs] or None)
        self.suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)

    def names(self, directory):
        if directory not in self.listings:
            try:
                self.listings[directory] = set(os.listdir(directory))
            except OSError:
                self.listings[directory] = set()
        return self.listings[directory]

    def find(self, name):
        """(source, package dirs) of `name`, or None when it cannot be found; parents first."""
        if name in self.found:
            return self.found[name]
        parent, _, last = name.rpartition(".")
        if parent:
            spec = self.find(parent)
            dirs = spec[1] if spec else None
            if not dirs:
                self.found[name] = None
                return None
        else:
            dirs = self.search
        self.found[name] = self._locate(dirs, last)
        return self.found[name]

    def _locate(self, dirs, last):
        portions = []
        for directory in dirs:
            names = self.names(directory)
            path = os.path.join(directory, last)
            if last in names and os.path.isdir(path):
                if "__init__.py" in self.names(path):
                    return os.path.join(path, "__init__.py"), [path]
                if any(n.startswith("__init__.") for n in self.names(path)):
                    return None, [path]  # a compiled package: nothing to compile
                portions.append(path)
                continue
            if any((last + suffix) in names for suffix in self.suffixes):
                return None, None
            if last + ".py" in names:
                return path + ".py", None
        return (None, portions) if portions else None


IMPORT_NAME, LOAD_CONST, EXTENDED_ARG = (opcode.opmap[n] for n in ("IMPORT_NAME", "LOAD_CONST", "EXTENDED_ARG"))
LOAD_SMALL_INT = opcode.opmap.get("LOAD_SMALL_INT", -1)  # 3.14+: an import's level is one
CO_NEWLOCALS = 0x2  # a function's code (a class body's or a module's has not): its imports run only when it is called


def imported(code, name, is_package):
    """The absolute module names `code` imports when it runs (a module's body and its class bodies; not
    its functions'), in order; `from p import x` names p.x too: it may be a submodule (the finder drops
    what is not). Read off the bytecode: LOAD_CONST level, LOAD_CONST fromlist, IMPORT_NAME name."""
    package = name if is_package else name.rpartition(".")[0]
    names = []
    for body in _bodies(code):
        consts, raw, arg, last = body.co_consts, body.co_code, 0, []
        for at in range(0, len(raw) - 1, 2):
            op, arg = raw[at], raw[at + 1] | (arg << 8)
            if op == EXTENDED_ARG:
                continue
            if op == LOAD_CONST:
                last = [*last[-1:], consts[arg] if arg < len(consts) else None]
            elif op == LOAD_SMALL_INT:
                last = [*last[-1:], arg]
            elif op == IMPORT_NAME and arg < len(body.co_names):
                level, fromlist = last if len(last) == 2 else (0, None)
                module = _absolute(body.co_names[arg], level if isinstance(level, int) else 0, package)
                if module:
                    names.append(module)
                    if isinstance(fromlist, tuple):
                        names.extend(f"{module}.{item}" for item in fromlist if isinstance(item, str) and item != "*")
                last = []
            elif op:  # not a CACHE entry (3.11+)
                last = []
            arg = 0
    return names


def _bodies(code):
    """`code` and the class bodies it defines (nested: a class in a class), not functions."""
    found, todo = [], [code]
    while todo:
        body = todo.pop(0)
        found.append(body)
        todo.extend(c for c in body.co_consts if isinstance(c, types.CodeType) and not c.co_flags & CO_NEWLOCALS)
    return found


def _absolute(module, level, package):
    if not level:
        return module
    base = package.split(".") if package else []
    if level - 1 > len(base):
        return None
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([module] if module else [])) or None


def cached_code(cached, stat):
    """The code of `cached` when it is a .pyc for the source as it is now (CPython's own timestamp check), else None."""
    try:
        with open(cached, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    at = 8 if sys.version_info >= (3, 7) else 4
    if data[:4] != importlib.util.MAGIC_NUMBER or data[at:at + 8] != header(stat)[at:at + 8]:
        return None
    try:
        code = marshal.loads(data[at + 8:])
    except Exception:  # noqa: BLE001 - a damaged .pyc: compiled again
        return None
    return code if isinstance(code, types.CodeType) else None


def header(stat):
    flags = b"\0\0\0\0" if sys.version_info >= (3, 7) else b""
    return (importlib.util.MAGIC_NUMBER + flags + (int(stat.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little")
            + (stat.st_size & 0xFFFFFFFF).to_bytes(4, "little"))


def compile_one(source, within):
    """(code or None, wrote): the code of `source` when it is the env's (the standard library is neither
    compiled nor followed: it imports nothing of the env), from its .pyc when that is fresh, else compiled,
    and its .pyc written."""
    real = os.path.realpath(source)
    if not (source.startswith(within) and real.startswith(within)):
        return None, False
    try:
        stat = os.stat(source)
        if stat.st_size > SOURCE_LIMIT:
            return None, False
        cached = importlib.util.cache_from_source(source)
        code = cached_code(cached, stat)
        if code is not None:
            return code, False
        with open(source, "rb") as handle:
            data = handle.read()
        code = compile(data, source, "exec", dont_inherit=True)
    except (OSError, SyntaxError, ValueError, MemoryError, RecursionError):
        return None, False
    try:
        os.makedirs(os.path.dirname(cached), exist_ok=True)
        temp = f"{cached}.{os.getpid()}.tmp"
        with open(temp, "wb") as handle:
            handle.write(header(stat) + marshal.dumps(code))
        os.replace(temp, cached)
    except (OSError, ValueError):
        return code, False
    return code, True


def main(argv):
    cut = argv.index("--")
    stop, within, roots = argv[1], os.path.realpath(argv[2]) + os.sep, argv[cut + 1:]
    here = os.path.dirname(os.path.realpath(__file__))
    search = [os.path.realpath(d) for d in sys.path + argv[3:cut]]  # the order a run's sys.path has; resolved, as ENV_ROOT
    search = [d for d in search if d != here and os.path.isdir(d)]
    finder, done, wrote = Finder(search), set(), 0
    stack = [iter(roots)]
    while stack and not os.path.exists(stop):
        name = next(stack[-1], None)
        if name is None:
            stack.pop()
            continue
        chain = [p for p in _prefixes(name) if p not in done]
        if len(chain) > 1:  # a.b.c runs a, then a.b (and what each imports), then a.b.c
            stack.append(iter(chain))
            continue
        if not chain:
            continue
        done.add(name)
        spec = finder.find(name)
        if not spec or not spec[0]:
            continue
        code, written = compile_one(spec[0], within)
        wrote += written
        if code is not None:
            stack.append(iter(imported(code, name, spec[1] is not None)))
    sys.stdout.write(f"{wrote}\n")
    return 0


def _prefixes(name):
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


if __name__ == "__main__":
    sys.exit(main(sys.argv))
