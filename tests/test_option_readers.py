"""The user's options are split by who reads them (issue 28): BuildOptions for the build, RunOptions for where
the model runs, DownloadOptions for fetching it. A field read where its class's readers are not, a run or
download setting back in BuildOptions, or a class defined above one of its readers fails here.

Reads are found in the source: `x.field` where `x` is a parameter annotated with the class, a local made from
one (`build or BuildOptions()`, `replace(run, ...)`), or a `.build` / `.run` / `.download` part (`opts.run.memory`)."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "envforge"
CLASSES = ("BuildOptions", "RunOptions", "DownloadOptions")
PARTS = {"build": "BuildOptions", "run": "RunOptions", "download": "DownloadOptions"}  # OptionParts' and the commands' fields
RUN_FIELDS = {"sandbox", "memory", "max_processes", "max_file_size", "max_open_files", "pass_env"}
DOWNLOAD_FIELDS = {"download_timeout", "allow_outside_links"}
# The packages whose code reads each class's fields (pipeline.py is a layer of its own).
READERS = {"RunOptions": {"backends", "execution", "building"}, "DownloadOptions": {"pipeline.py"}}


def _package(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else ("pipeline.py" if parts[0] == "pipeline.py" else "(root)")


def _option_classes(root: Path = PACKAGE) -> dict[str, tuple[Path, set[str]]]:
    """class name -> (its file, its fields), for the option classes defined under `root`."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.name in CLASSES:
                found[node.name] = (path, {s.target.id for s in node.body
                                           if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)})
    return found


def _annotated(annotation: ast.expr | None) -> str | None:
    if annotation is None:
        return None
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        annotation = ast.parse(annotation.value, mode="eval").body
    names = {n.id for n in ast.walk(annotation) if isinstance(n, ast.Name)}
    return next((c for c in CLASSES if c in names), None)


def _kind(expr: ast.expr, known: dict[str, str]) -> str | None:
    """Which option class `expr` evaluates to, as far as the source says."""
    if isinstance(expr, ast.Name):
        return known.get(expr.id)
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
        if expr.func.id in CLASSES:
            return expr.func.id
        if expr.func.id == "replace" and expr.args:
            return _kind(expr.args[0], known)
    if isinstance(expr, ast.BoolOp):
        return next((k for v in expr.values if (k := _kind(v, known))), None)
    if isinstance(expr, ast.IfExp):
        return _kind(expr.body, known) or _kind(expr.orelse, known)
    if isinstance(expr, ast.Attribute) and expr.attr in PARTS:
        return PARTS[expr.attr]
    return None


def _reads(tree: ast.AST, fields: dict[str, set[str]]) -> set[tuple[str, str]]:
    """(class, field) for each field of an option class that the code in `tree` reads."""
    out: set[tuple[str, str]] = set()

    def visit(node: ast.AST, known: dict[str, str]) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            known = dict(known)
            arguments = node.args
            for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
                if kind := _annotated(arg.annotation):
                    known[arg.arg] = kind
            body = node.body if isinstance(node.body, list) else [node.body]
            for statement in body:  # the locals it makes first: `options = build or BuildOptions()`
                for sub in ast.walk(statement):
                    if isinstance(sub, ast.Assign):
                        for target in sub.targets:
                            pairs = (zip(target.elts, sub.value.elts, strict=False) if isinstance(target, ast.Tuple)
                                     and isinstance(sub.value, ast.Tuple) else [(target, sub.value)])
                            for name, value in pairs:
                                if isinstance(name, ast.Name) and (kind := _kind(value, known)):
                                    known[name.id] = kind
            for statement in body:
                visit(statement, known)
            return
        if isinstance(node, ast.Attribute) and (kind := _kind(node.value, known)) and node.attr in fields.get(kind, ()):
            out.add((kind, node.attr))
        for child in ast.iter_child_nodes(node):
            visit(child, known)

    visit(tree, {})
    return out


def _readers() -> dict[str, dict[str, set[str]]]:
    """class -> field -> the packages reading it."""
    fields = {name: names for name, (_, names) in _option_classes().items()}
    found: dict[str, dict[str, set[str]]] = {name: {f: set() for f in names} for name, names in fields.items()}
    for path in sorted(PACKAGE.rglob("*.py")):
        for kind, field in _reads(ast.parse(path.read_text()), fields):
            found[kind][field].add(_package(path))
    return found


def _layers() -> list[set[str]]:
    """ARCHITECTURE.md's package order, highest first: a line's leading package names share a layer."""
    text = (ROOT / "ARCHITECTURE.md").read_text().split("## Packages and the order they depend in", 1)[1]
    block = text.split("```", 2)[1]
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()} | {"pipeline.py", "(root)"}
    layers = []
    for line in block.splitlines():
        if line and not line[0].isspace():
            words = []
            for word in line.split():
                if word not in packages:
                    break
                words.append(word)
            if words:
                layers.append(set(words))
    return layers


def test_the_read_finder_follows_annotations_locals_and_parts() -> None:
    source = '''
def a(options: RunOptions, build: "BuildOptions | None" = None) -> None:
    options.sandbox
    (build or BuildOptions()).python
def b(download: DownloadOptions | None) -> None:
    fetch = download or DownloadOptions()
    fetch.download_timeout
def c(opts) -> None:
    opts.run.memory
    opts.memory
    def inner() -> None:
        opts.download.allow_outside_links
def d(executor, run: RunOptions) -> None:
    executor.sandbox
    limits = replace(run, sandbox="off")
    limits.pass_env
'''
    fields = {"RunOptions": RUN_FIELDS, "DownloadOptions": DOWNLOAD_FIELDS, "BuildOptions": {"python"}}
    assert _reads(ast.parse(source), fields) == {
        ("RunOptions", "sandbox"), ("BuildOptions", "python"), ("DownloadOptions", "download_timeout"),
        ("RunOptions", "memory"), ("DownloadOptions", "allow_outside_links"), ("RunOptions", "pass_env")}


def test_the_layer_order_is_read_from_architecture_md() -> None:
    layers = _layers()
    assert layers[0] == {"cli"} and {"spec", "modeldir"} in layers and layers[-1] == {"(root)"}
    assert layers.index({"execution"}) < layers.index({"backends"}) < layers.index({"spec", "modeldir"})


def test_build_options_hold_no_run_or_download_setting() -> None:
    classes = _option_classes()
    assert set(classes) == set(CLASSES), "each reader has its own option class"
    build, run, download = (classes[name][1] for name in CLASSES)
    assert run == RUN_FIELDS and download == DOWNLOAD_FIELDS
    assert build & (RUN_FIELDS | DOWNLOAD_FIELDS) == set()


@pytest.mark.parametrize("name", sorted(READERS))
def test_options_are_read_only_by_their_readers(name: str) -> None:
    found = _readers()
    assert name in found, f"no class {name} in envforge/"
    readers = found[name]
    assert {f for f, packages in readers.items() if not packages} == set(), f"a field of {name} nobody reads"
    assert set().union(*readers.values()) == READERS[name], readers
    # defined at or below every reader (importable by each), in the lowest one's layer or below
    layer = {package: i for i, names in enumerate(_layers()) for package in names}
    home = _package(_option_classes()[name][0])
    assert all(layer[home] >= layer[reader] for reader in READERS[name]), (home, READERS[name])


def test_the_flat_keywords_split_into_the_three_parts() -> None:
    from envforge.building.option_parts import split_options
    from envforge.commands.verify import VerifyOptions
    from envforge.errors import UsageError

    parts, own = split_options({"sandbox": "off", "memory": "1g", "pass_env": ("HF_TOKEN",), "download_timeout": 5.0,
                                "allow_outside_links": True, "python": "/usr/bin/python3", "check": True, "rtol": 0.1},
                               VerifyOptions)
    assert (parts.run.sandbox, parts.run.memory, parts.run.pass_env) == ("off", "1g", ("HF_TOKEN",))
    assert (parts.download.download_timeout, parts.download.allow_outside_links) == (5.0, True)
    assert (parts.build.python, parts.build.check, own) == ("/usr/bin/python3", True, {"rtol": 0.1})
    with pytest.raises(UsageError, match=r"Unknown option\(s\): max_procs\."):
        split_options({"max_procs": 3}, VerifyOptions)


def test_the_cli_flags_reach_their_reader() -> None:
    from envforge.cli import build_parser
    from envforge.cli.options import option_parts

    parser = build_parser()
    args = parser.parse_args(["verify", "m", "--sandbox", "on", "--max-processes", "64", "--pass-env", "A", "--pass-env", "B",
                              "--download-timeout", "7", "--allow-outside-links", "--build-timeout", "99"])
    parts = option_parts(args)
    assert (parts.run.sandbox, parts.run.max_processes, parts.run.pass_env) == ("on", 64, ("A", "B"))
    assert (parts.download.download_timeout, parts.download.allow_outside_links) == (7.0, True)
    assert parts.build.timeout == 99.0
    assert option_parts(argparse.Namespace()) == type(parts)()  # a command without the flags: the defaults
