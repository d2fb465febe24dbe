"""The one way envforge runs a subprocess: an argv list, a timeout, an explicit environment.

Never a shell: argv elements can come from model files, which are untrusted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Variables a child needs to work at all; everything else is passed only on request.
_BASE_ENV = (
    "PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ", "USER", "LOGNAME",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
    "PYENV_ROOT", "XDG_CACHE_HOME", "XDG_DATA_HOME",
)
_PASS_PREFIXES = ("UV_",)


def child_env(extra: Mapping[str, str] | None = None, *, prefixes: Sequence[str] = _PASS_PREFIXES) -> dict[str, str]:
    """A minimal environment for a child process: the basics, chosen prefixes, then `extra`."""
    env = {k: v for k, v in os.environ.items() if k in _BASE_ENV or k.startswith(tuple(prefixes))}
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class Outcome:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def tail(self, lines: int = 20) -> str:
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return "\n".join(text[-lines:])

    def describe(self) -> str:
        cmd = " ".join(self.argv)
        if self.timed_out:
            return f"`{cmd}` timed out after {self.seconds:.0f} s"
        return f"`{cmd}` exited with {self.returncode}"


def run(
    argv: Sequence[str],
    *,
    timeout: float | None,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> Outcome:
    """Run argv, capturing output; kill the whole process group on timeout."""
    start = time.monotonic()
    proc = subprocess.Popen(
        list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        env=dict(env) if env is not None else None, cwd=cwd, text=True, errors="replace",
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        timed_out = True
    except BaseException:
        _kill_group(proc)
        proc.wait()
        raise
    return Outcome(tuple(argv), proc.returncode, out, err, time.monotonic() - start, timed_out)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
