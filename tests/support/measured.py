"""Run the real `envforge` CLI and measure what it cost ITS OWN process (issue 17): CPU seconds and peak
RSS from os.wait4's rusage of that one child, not wall clock (the machine is shared) and not the test
process's RUSAGE_CHILDREN (whose ru_maxrss is the largest child ever waited for, earlier tests' too)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Measured:
    returncode: int
    stdout: str
    stderr: str
    cpu_seconds: float
    peak_rss_mb: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def measured_envforge(*args: str, home: Path, env: dict[str, str] | None = None, timeout: float = 120) -> Measured:
    full_env = {**os.environ, "ENVFORGE_HOME": str(home), "COLUMNS": "200", **(env or {})}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-m", "envforge", *args], stdout=out, stderr=err, env=full_env,
                                stdin=subprocess.DEVNULL)
        try:
            _, status, usage = _wait4(proc, timeout)
        finally:
            if proc.returncode is None:
                proc.kill()
                proc.wait()
        out.seek(0)
        err.seek(0)
        # what a traceback or message needs is in the head and tail; a test never holds megabytes of output
        stdout, stderr = (_head_tail(f.read()) for f in (out, err))
    code = os.waitstatus_to_exitcode(status)
    return Measured(code, stdout, stderr, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def _wait4(proc: subprocess.Popen[bytes], timeout: float) -> tuple[int, int, Any]:
    import time

    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
            return pid, status, usage
        if time.monotonic() > deadline:
            raise TimeoutError(f"envforge did not finish within {timeout} s (wall clock; a hang)")
        time.sleep(0.02)


def _head_tail(data: bytes, keep: int = 200_000) -> str:
    text = data.decode(errors="replace")
    return text if len(text) <= 2 * keep else text[:keep] + "\n[...]\n" + text[-keep:]
