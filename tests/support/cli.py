"""Run the real `envforge` command in a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import signal
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
    """envforge started in the background, its output on pipes. Ctrl-C (SIGINT) reaches it as from a terminal even when
    this test run was started with SIGINT ignored (a script's `cmd &`, nohup, some CI runners): an ignored signal stays
    ignored across exec, and Python then installs no KeyboardInterrupt handler, so a test sending SIGINT would see it lost."""
    full_env = {**os.environ, "ENVFORGE_HOME": str(home), "COLUMNS": "200", **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "envforge", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=full_env, preexec_fn=_sigint_as_from_a_terminal)


def _sigint_as_from_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # in the child, before exec: Python installs its own handler then


def report(path: Path) -> dict:
    return json.loads(path.read_text())["results"][0]


def wait_for_line(proc: subprocess.Popen[str], text: str, timeout: float = 300) -> None:
    """Read proc's stdout (in a thread: a line may never come) until a line holds `text`; kill proc and fail if it
    exits or `timeout` passes first."""
    import queue
    import threading
    import time

    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout
    threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if text in lines.get(timeout=1):
                return
        except queue.Empty:
            if proc.poll() is not None:
                break
    proc.kill()
    raise AssertionError(f"{text!r} never came from {proc.args}: {proc.stderr.read() if proc.stderr else ''}")
