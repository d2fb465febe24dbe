"""`python -m envforge.ci_script` prints the path of envforge-ci.sh, the script behind the GitHub Action and the
GitLab template (ci/ in the source tree; the wheel ships it as envforge/ci/envforge-ci.sh), so that a CI job that
pip-installed envforge runs the script of the version it installed: `bash "$(python -m envforge.ci_script)"`."""

from __future__ import annotations

import sys
from pathlib import Path

NAME = "envforge-ci.sh"


def script_path() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "ci" / NAME, here.parent / "ci" / NAME):  # an installed wheel; a source checkout
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{NAME} is neither in {here / 'ci'} nor in {here.parent / 'ci'}: reinstall envforge")


if __name__ == "__main__":
    try:
        print(script_path())
    except FileNotFoundError as exc:
        print(f"envforge: error: {exc}", file=sys.stderr)
        sys.exit(2)
