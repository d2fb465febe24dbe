"""Regenerate envforge/spec/runtimes/*.json from a checkout of a public repository of Databricks
runtime constraint files (one `constraints.txt` per runtime, `pkg~=X.Y.Z` lines whose lower bound is the
version the runtime ships, and a `pyproject.toml` whose `requires-python = "==3.N.*"` is its Python).

    python scripts/runtime_tables.py GIT_DIR COMMIT SUBDIR REPO_NAME NAME [NAME ...]

Reads the files with `git show COMMIT:SUBDIR/NAME/...` (no work tree needed) and writes one JSON table
per runtime, each with its source (repository, commit, path) and the commit's date.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "envforge" / "spec" / "runtimes"
LINE = re.compile(r"^([A-Za-z0-9_.\-]+)\s*(?:~=|==)\s*([0-9][^\s;,#]*)")


def show(git_dir: str, commit: str, path: str) -> str | None:
    done = subprocess.run(["git", "--git-dir", git_dir, "show", f"{commit}:{path}"], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else None


def main(git_dir: str, commit: str, subdir: str, repo: str, names: list[str]) -> None:
    date = subprocess.run(["git", "--git-dir", git_dir, "show", "-s", "--format=%cs", commit],
                          capture_output=True, text=True, check=True).stdout.strip()
    for name in names:
        constraints = show(git_dir, commit, f"{subdir}/{name}/constraints.txt")
        pyproject = show(git_dir, commit, f"{subdir}/{name}/pyproject.toml") or ""
        if constraints is None:
            print(f"skip {name}: no constraints.txt", file=sys.stderr)
            continue
        title = constraints.splitlines()[0].removeprefix("# constraints.txt file for ").strip()
        python = re.search(r'requires-python\s*=\s*"==(\d+\.\d+)', pyproject)
        packages = {}
        for line in constraints.splitlines():
            match = LINE.match(line.strip())
            if match:
                packages[match.group(1).lower().replace("_", "-")] = match.group(2)
        omitted = re.findall(r"^#\s+-\s+([A-Za-z0-9_.\-]+)==(\S+)", constraints, re.M)
        for pkg, version in omitted:  # pre-installed in the runtime, left out of the file for other reasons
            packages.setdefault(pkg.lower().replace("_", "-"), version)
        table = {
            "name": name.removeprefix("serverless-v").join(("client.", "")) if name.startswith("serverless-v") else name,
            "title": title,
            "python": python.group(1) if python else None,
            "source": {"repository": repo, "commit": commit, "path": f"{subdir}/{name}/constraints.txt",
                       "date": date, "derived": "each `pkg~=X.Y.Z` line's lower bound X.Y.Z is the version the runtime ships"},
            "packages": dict(sorted(packages.items())),
        }
        (OUT / f"{table['name']}.json").write_text(json.dumps(table, indent=1) + "\n")
        print(table["name"], table["python"], len(packages))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
