"""envforge's error hierarchy: one base class, an exit code per kind, a remedy per error.

The CLI turns any of these into a one-paragraph message (problem, then remedy) and the
error's exit code; anything else reaching the user would be a bug.
"""

from __future__ import annotations

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_ENV = 3
EXIT_DRIFT = 4          # --fail-on drift: the verdict passed, but packages differ from the training env (report/gate.py)
EXIT_WARNINGS = 5       # --fail-on warnings: the verdict passed, but the model's process warned (report/gate.py)
EXIT_INTERNAL = 70      # a bug in envforge (EX_SOFTWARE)
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
EXIT_TERMINATED = 143   # SIGTERM (128 + SIGTERM): a cancelled CI job


class Terminated(KeyboardInterrupt):
    """SIGTERM (a cancelled CI job) turned into an exception, so that every `finally`, every child
    process group and every lock is cleaned up on the way out, as on Ctrl-C."""


class EnvforgeError(Exception):
    """Base of every error envforge reports to a user."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, remedy: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.remedy = remedy

    def paragraph(self) -> str:
        return f"{self.message} {self.remedy}".strip()


class UsageError(EnvforgeError):
    """Bad command-line usage or API arguments."""


class ResolveError(EnvforgeError):
    """A model URI that cannot be resolved or downloaded."""


class ModelDirError(EnvforgeError):
    """A model directory that is missing files or holds malformed ones."""


class EnvBuildError(EnvforgeError):
    """The environment could not be built."""

    exit_code = EXIT_ENV


class InterpreterNotFound(EnvBuildError):
    """No installed interpreter satisfies the model's Python version."""


class ModelRunError(EnvforgeError):
    """The runner could not run at all inside the environment (not the model's own error)."""

    exit_code = EXIT_FAILED


class TaskError(EnvforgeError):
    """A verification task that ended for a reason outside the model: a lost worker, a bug in a task."""

    exit_code = EXIT_ENV
