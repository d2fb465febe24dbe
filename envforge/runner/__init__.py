"""Code that runs inside a rebuilt environment. Only `script_path()`, `files()` and `sandbox_init_path()` are for envforge itself."""

from __future__ import annotations

from pathlib import Path


def script_path() -> Path:
    """The runner script, executed by the environment's own Python (it never imports envforge)."""
    return Path(__file__).with_name("run_model.py")


def files() -> dict[str, Path]:
    """Every file the runner needs, by name: copy them all into one directory (containers)."""
    return {name: Path(__file__).with_name(name) for name in ("run_model.py", "introspect.py", "flavor_inputs.py", "warning_catch.py",
                                                           "spark_stop.py")}


def sandbox_init_path() -> Path:
    """The sandbox's first process (execution/sandbox.py starts it inside bubblewrap)."""
    return Path(__file__).with_name("sandbox_init.py")


def compile_ahead_path() -> Path:
    """Compiles a new env's imports ahead of its first run (execution/pycache.py starts it, outside the sandbox)."""
    return Path(__file__).with_name("compile_ahead.py")
