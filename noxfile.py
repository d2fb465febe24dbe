"""nox sessions: `nox -s tests`, `nox -s lint`, `nox -s bench`. scripts/test.sh is what CI runs."""

from __future__ import annotations

import nox


@nox.session
def tests(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("ruff", "check", "envforge", "tests", "integration", "bench")


@nox.session
def bench(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("python", "bench/run.py", *session.posargs)
