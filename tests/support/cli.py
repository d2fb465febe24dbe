"""Run the real `envforge` command in a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class CliRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def envforge(*args: str, home: Path, env: dict[str, str] | None = None, timeout: float = 900,
             cwd: Path | None = None, unset: tuple[str, ...] = ()) -> CliRun:
    full_env = {**os.environ, "ENVFORGE_HOME": str(home), "COLUMNS": "200", **(env or {})}
    for name in unset:
        full_env.pop(name, None)
    proc = subprocess.run([sys.executable, "-m", "envforge", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=cwd)
    return CliRun(proc.returncode, proc.stdout, proc.stderr)


def start_envforge(*args: str, home: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    full_env = {**os.environ, "ENVFORGE_HOME": str(home), "COLUMNS": "200", **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "envforge", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=full_env)


def report(path: Path) -> dict:
    return json.loads(path.read_text())["results"][0]
