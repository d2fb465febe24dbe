"""nox sessions, the same as tox's: `nox -s quick` (the unit tests, under a minute on 2 cores), `nox -s full`
(scripts/test.sh: what CI runs, set-up included), `nox -s lint`, `nox -s bench`."""

from __future__ import annotations

import nox


@nox.session
def quick(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("pytest", "-p", "no:cacheprovider", "-m", "not slow", "-n", "2", *session.posargs)


@nox.session(python=False)
def full(session: nox.Session) -> None:
    session.run("bash", "scripts/test.sh", *session.posargs, external=True)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("ruff", "check", "envforge", "tests", "integration", "bench")


@nox.session
def bench(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("python", "bench/run.py", *session.posargs)
