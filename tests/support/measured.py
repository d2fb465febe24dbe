"""Run the real `envforge` CLI and measure what it cost ITS OWN process (issue 17): CPU seconds and peak
RSS from os.wait4's rusage of that one process, not wall clock (the machine is shared) and not the test
process's RUSAGE_CHILDREN (whose ru_maxrss is the largest child ever waited for, earlier tests' too)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path


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


# A small launcher forks envforge and reads its rusage: Linux keeps a process's peak RSS across fork and exec, so a
# child started straight from a pytest worker that has grown to hundreds of MB would report the worker's peak.
# The launcher (python -I -S, a few MB) is what envforge is forked from.
_LAUNCHER = r"""
import json, os, signal, sys, time
out, timeout, argv = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
pid = os.fork()
if pid == 0:
    os.execv(argv[0], argv)
deadline = time.monotonic() + timeout
while True:
    done, status, usage = os.wait4(pid, os.WNOHANG)
    if done:
        break
    if time.monotonic() > deadline:
        os.kill(pid, signal.SIGKILL)
        os.wait4(pid, 0)
        json.dump({"timeout": True}, open(out, "w"))
        sys.exit(0)
    time.sleep(0.02)
json.dump({"status": status, "cpu": usage.ru_utime + usage.ru_stime, "maxrss": usage.ru_maxrss}, open(out, "w"))
"""


def measured_envforge(*args: str, home: Path, env: dict[str, str] | None = None, timeout: float = 120) -> Measured:
    full_env = {**os.environ, "ENVFORGE_HOME": str(home), "COLUMNS": "200", **(env or {})}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryDirectory() as tmp:
        usage_file = Path(tmp) / "usage.json"
        launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(usage_file), str(timeout), sys.executable, "-m", "envforge", *args]
        subprocess.run(launcher, stdout=out, stderr=err, env=full_env, stdin=subprocess.DEVNULL, timeout=timeout + 60, check=True)
        usage = json.loads(usage_file.read_text())
        if usage.get("timeout"):
            raise TimeoutError(f"envforge did not finish within {timeout} s (wall clock; a hang)")
        out.seek(0)
        err.seek(0)
        # what a traceback or message needs is in the head and tail; a test never holds megabytes of output
        stdout, stderr = (_head_tail(f.read()) for f in (out, err))
    code = os.waitstatus_to_exitcode(usage["status"])
    return Measured(code, stdout, stderr, usage["cpu"], usage["maxrss"] / 1024)


def _head_tail(data: bytes, keep: int = 200_000) -> str:
    text = data.decode(errors="replace")
    return text if len(text) <= 2 * keep else text[:keep] + "\n[...]\n" + text[-keep:]
