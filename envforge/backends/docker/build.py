"""Build an image from a Context through the engine's API, streaming progress; a failed step is an
EnvBuildError naming the step, with the tail of its log and a remedy for what usually breaks."""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path
from typing import Any

from envforge.backends.base import Log
from envforge.backends.docker.context import Context, tar_context
from envforge.backends.docker.engine import engine_errors
from envforge.errors import EnvBuildError
from envforge.redact import redact

_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_CERT = ("CERTIFICATE_VERIFY_FAILED", "invalid peer certificate", "UnknownIssuer", "certificate verify failed")


def build_image(client: Any, ctx: Context, tag: str, *, timeout: float, log: Log, log_file: Path | None = None) -> str:
    """Build `ctx` as `tag` with host networking (installers reach the index even on an engine
    without a bridge network); return the image id. Intermediate containers are always removed."""
    lines: list[str] = []
    step, step_start, image_id = "sending the build context", 0, None
    start = time.monotonic()
    try:
        with tempfile.TemporaryFile() as fileobj, engine_errors(f"Building {tag}"):
            tar_context(ctx, fileobj)
            stream = client.api.build(fileobj=fileobj, custom_context=True, tag=tag, buildargs=ctx.build_args or None,
                                      network_mode="host", rm=True, forcerm=True, pull=False, decode=True, timeout=int(timeout))
            for chunk in stream:
                if "error" in chunk:
                    error = str(chunk.get("error") or "").strip()
                    lines.append(error)
                    raise _failure(tag, step, lines[step_start:], error, log_file)
                for line in str(chunk.get("stream") or "").splitlines():
                    line = redact(line.rstrip())
                    if not line:
                        continue
                    lines.append(line)
                    match = _STEP.match(line)
                    if match:
                        step, step_start = line, len(lines) - 1
                        log(f"step {match.group(1)}/{match.group(2)}: {match.group(3)[:100]}")
                    else:
                        log(f"{step.split(' : ')[0].lower()}: {line[:120]}")
                image_id = (chunk.get("aux") or {}).get("ID") or image_id
                if time.monotonic() - start > timeout:
                    raise EnvBuildError(f"Building {tag} took longer than {timeout:.0f} s (at {step}).",
                                        "Raise --build-timeout, or look at the step above for a hang.")
    finally:
        if log_file is not None:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            log_file.write_text("\n".join(lines) + "\n")
    if image_id is None:
        with engine_errors(f"Finding the image {tag}"):
            image_id = client.images.get(tag).id
    return str(image_id)


def _failure(tag: str, step: str, step_lines: list[str], error: str, log_file: Path | None) -> EnvBuildError:
    tail = "\n".join(step_lines[-25:])
    where = f"; the whole log is in {log_file}" if log_file else ""
    return EnvBuildError(redact(f"Building the image {tag} failed at {step}: {error}\n{tail}\n"), _remedy(step, step_lines) + where)


def _remedy(step: str, lines: list[str]) -> str:
    text = "\n".join(lines)
    if any(marker in text for marker in _CERT):
        return ("HTTPS is intercepted by a proxy the image does not trust: pass its CA certificate with "
                "--ca-bundle PATH (the host's is usually under /usr/local/share/ca-certificates/).")
    if "envforge-apt" in step or "apt-get" in step:
        return ("Check the system packages the model declares (system_requirements.txt / apt.txt): each must exist in "
                "the base image's package sources, and the build must reach them (it uses the host's network).")
    if "uv==" in step:
        return "The image could not install uv: check that the build can reach the package index (host network), or pass --index-url."
    if "uv pip install" in step or "/tools/bin/uv" in step:
        return ("Check that every pinned version exists on the package index and has a wheel for the base image's Python "
                "(the installer's message above names the package); for private packages pass --index-url/--extra-index-url.")
    if "venv" in step:
        return "The base image needs python3 with the venv module (Debian: python3-venv): pass another --base-image."
    if step.startswith("Step 1/") or "FROM" in step:
        return "Pass --base-image with an image the engine has (`docker images`), or pull it first."
    return "Read the failing step's output above."
