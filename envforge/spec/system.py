"""Non-Python packages a model declares: a plain list of apt package names in one of its files.

MLflow has no field for system libraries, so models carry them as an artifact: a
`system_requirements.txt` or an `apt.txt` at the top of the model directory or under its
`artifacts/`. One or more names per line, `#` comments. Names are checked against Debian's
package-name syntax (an optional `:arch` and `=version`): they end up as arguments of the
package manager inside an image, so anything else is refused.
"""

from __future__ import annotations

import re
from pathlib import Path

from envforge.bounds import limits
from envforge.errors import ModelDirError
from envforge.spec.paths import inside

FILES = ("system_requirements.txt", "apt.txt")
DIRS = ("", "artifacts")
_NAME = re.compile(r"^[a-z0-9][a-z0-9+.\-]*(?::[a-z0-9\-]+)?(?:=[A-Za-z0-9.+~:\-]+)?$")


def find_system_file(model_dir: Path) -> str | None:
    """The declaring file, relative to the model directory ("artifacts/apt.txt"), or None."""
    for folder in DIRS:
        for name in FILES:
            relative = f"{folder}/{name}" if folder else name
            if inside(model_dir, relative, f"the system packages file {relative!r}").is_file():
                return relative
    return None


def read_system_packages(model_dir: Path) -> tuple[tuple[str, ...], str | None]:
    """(package names in file order without duplicates, the file they came from)."""
    relative = find_system_file(model_dir)
    if relative is None:
        from envforge.spec.dependency_list import read_dependency_list  # the guide's artifact (.txt/.json)

        words, relative = read_dependency_list(model_dir)
        if relative is None:
            return (), None
        lines = [" ".join(words)]
    else:
        path = inside(model_dir, relative, f"the system packages file {relative!r}")
        lines = limits.read_bounded(path, "text", where=relative).splitlines()
    limits.check_lines(lines, relative)
    names: dict[str, None] = {}
    for number, line in enumerate(lines, 1):
        for word in line.split("#", 1)[0].split():
            if not _NAME.match(word):
                raise ModelDirError(
                    f"{relative}, line {number}: {word[:80]!r} is not a package name.",
                    "List one apt package name per word (e.g. `libgomp1` or `jq=1.6-2.1`), nothing else.",
                )
            names[word] = None
    return tuple(names), relative
