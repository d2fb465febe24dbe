"""The package's shape stays one a newcomer can carry: no import circles, small modules, and no code
outside backends/ that branches on a backend's name (the registry in backends/__init__.py is the only list)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "envforge"
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """Every envforge module that `path` imports, at any depth of the file (lazy imports and
    TYPE_CHECKING imports included: a circle through either still ties the modules together)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        out.update(t for t in targets if t in modules and t != name)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, name, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_import_graph_sees_lazy_and_relative_imports() -> None:
    graph = _graph()
    assert graph and all(name.startswith("envforge") for name in graph)
    assert "envforge.errors" in graph["envforge.backends.base"]


def test_no_import_circle_in_envforge() -> None:
    assert _cycles(_graph()) == []


def test_no_module_is_over_400_lines() -> None:
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


# A backend's name compared with a literal: `backend == "conda"`, `options.backend in ("uv", ...)`, `b.name != "docker"`.
_NAMES = "(uv|virtualenv|conda|docker)"
_BRANCH = re.compile(rf"""(backend\w*|\.name)\s*(==|!=|\bin\b)\s*[(\[{{]?\s*["']{_NAMES}["']|["']{_NAMES}["']\s*(==|!=)\s*[\w.]*(backend|\.name)""")


def test_the_branch_finder_finds_branches_on_backend_names() -> None:
    for line in ('if backend == "conda":', "if args.backend in ('uv', 'virtualenv'):", 'x if chosen.name != "docker" else y',
                 'if "docker" == spec.backend:'):
        assert _BRANCH.search(line), line
    assert not _BRANCH.search('order = ["conda", "virtualenv"] if kind == "conda" else []')  # an MLmodel env kind


def test_no_branch_on_a_backend_name_outside_backends() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "backends":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if _BRANCH.search(line):
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert offenders == []


def _package_pairs(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """First-level packages (envforge.X) that import each other, each pair once."""
    def package(name: str) -> str | None:
        parts = name.split(".")
        return parts[1] if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()) else None

    edges = {(a, b) for src, targets in graph.items() for dst in targets
             if (a := package(src)) and (b := package(dst)) and a != b}
    return sorted({tuple(sorted(edge)) for edge in edges if (edge[1], edge[0]) in edges})


def test_the_pair_finder_finds_packages_that_import_each_other() -> None:
    graph = {"envforge.a.x": {"envforge.b.y"}, "envforge.b.y": set(), "envforge.b.z": {"envforge.a.w"}, "envforge.a.w": set(),
             "envforge.c.q": {"envforge.a.x"}}
    assert _package_pairs(graph) == [("a", "b")]


def test_no_two_packages_import_each_other() -> None:
    """A drawn layer order (ARCHITECTURE.md): a package never imports one that imports it."""
    assert _package_pairs(_graph()) == []


def test_no_two_modules_share_a_file_name() -> None:
    seen: dict[str, list[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        if path.name not in ("__init__.py", "__main__.py"):
            seen.setdefault(path.stem, []).append(str(path.relative_to(PACKAGE)))
    package_names = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert {name: paths for name, paths in seen.items() if len(paths) > 1} == {}
    # nor a module named like a first-level package (registry.py beside registry/, report.py beside report/)
    assert sorted(p for name, paths in seen.items() if name in package_names for p in paths
                  if Path(p).parent.name != name) == []
