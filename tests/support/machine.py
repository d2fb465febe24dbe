"""What this machine has, asked of it: tests that need real interpreters take them from here instead of
assuming patch versions (a contributor's laptop, a hosted runner with setup-python, this image)."""

from __future__ import annotations

import pytest

from envforge.interpreters import Interpreter, discover


def pythons_by_minor() -> list[Interpreter]:
    """One real CPython per minor version (its highest patch), newest first, found as envforge finds them."""
    by_minor: dict[tuple[int, ...], Interpreter] = {}
    for interpreter in discover():  # newest first: the first of a minor is its highest patch
        by_minor.setdefault(interpreter.version_tuple[:2], interpreter)
    return list(by_minor.values())


def need_pythons(count: int) -> list[Interpreter]:
    """`count` interpreters of distinct minor versions, newest first; a skip says what provides them."""
    found = pythons_by_minor()
    if len(found) < count:
        pytest.skip(f"needs CPython of {count} minor versions, this machine has {[i.version for i in found]}: "
                    "`uv python install 3.10 3.11 3.12 3.13` (or pyenv install) provides them")
    return found[:count]


def pythons_of_minor(minor: str) -> list[Interpreter]:
    """Every CPython of minor version `minor` ("3.11") this machine has, highest patch first."""
    return [i for i in discover() if ".".join(map(str, i.version_tuple[:2])) == minor]
