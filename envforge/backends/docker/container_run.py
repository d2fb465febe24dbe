"""Run envforge's runner in a container: no network, a non-root user, memory and time limits.

The request goes in and the result comes out through the engine's archive API (no bind mounts),
so this works with a remote engine or Podman as well as a local one.
"""

from __future__ import annotations

import io
import tarfile
import time
from pathlib import Path
from typing import Any

from envforge.backends.docker.context import MODEL_DIR, RUNNER, UID, VENV_PYTHON, WORKDIR
from envforge.backends.docker.engine import engine_errors
from envforge.bounds import limits
from envforge.bounds.child_output import Capped
from envforge.errors import ModelRunError
from envforge.processes.proc import Outcome


class ContainerExecutor:
    """An envforge.backends.base.Executor for one image (the model image: env + model + runner)."""

    model_dir = MODEL_DIR

    def __init__(self, client: Any, image: str, *, memory: str, keep: Any, env: dict[str, str] | None = None) -> None:
        self.client, self.image, self.memory, self.env = client, image, memory, dict(env or {})
        self._keep = keep  # called with `passed` after the verdict: returns what to report

    def execute(self, workdir: Path, timeout: float) -> Outcome:
        argv = [VENV_PYTHON, "-I", RUNNER, f"{WORKDIR}/request.json", f"{WORKDIR}/result.json"]
        start = time.monotonic()
        with engine_errors("Running the model in a container"):
            container = self.client.containers.create(
                self.image, entrypoint=argv[:1], command=argv[1:], user=str(UID), working_dir=WORKDIR,
                network_mode="none", mem_limit=self.memory, memswap_limit=self.memory, pids_limit=1024,
                cap_drop=["ALL"], security_opt=["no-new-privileges"], labels={"org.envforge.run": "1"},
                environment={**self.env, "PYTHONUNBUFFERED": "1", "MLFLOW_TRACKING_URI": "file:///tmp/mlruns",
                             "ENVFORGE_LIFELINE": "stdin"},
                stdin_open=True,  # not detached: StdinOnce too, so stdin closes when envforge's attach connection does (the lifeline)
            )
        lifeline = None
        try:
            with engine_errors("Copying the request into the container"):
                container.put_archive(WORKDIR, _tar_file("request.json", (workdir / "request.json").read_bytes()))
                lifeline = container.attach_socket(params={"stdin": 1, "stream": 1})
                container.start()
            returncode, timed_out = _wait(container, timeout)
            with engine_errors("Reading the container's output"):
                stdout, stderr = _logs(container, stdout=True), _logs(container, stdout=False)
                state = self.client.api.inspect_container(container.id).get("State") or {}
                if state.get("OOMKilled"):
                    stderr += f"\nenvforge: the container ran out of memory (limit {self.memory}); raise it with --memory\n"
                result = _read_file(container, f"{WORKDIR}/result.json")
            if result is not None:
                (workdir / "result.json").write_bytes(result)
        finally:
            with engine_errors("Removing the container"):
                container.remove(force=True)
            if lifeline is not None:
                lifeline.close()
        return Outcome(tuple(argv), returncode, stdout, stderr, time.monotonic() - start, timed_out)

    def finish(self, passed: bool) -> dict[str, Any] | None:
        return self._keep(passed)

    def sandbox_report(self) -> dict[str, Any]:
        """The JSON report's `sandbox` (as execution/sandbox.py's for the local backends): the container's confinement."""
        return {"network": False, "home": "container", "limits": {"memory": self.memory, "processes": 1024},
                "limit_hit": None, "leftovers": []}


def _wait(container: Any, timeout: float) -> tuple[int, bool]:
    """(exit code, timed out): a container past its time is killed."""
    import requests.exceptions

    try:
        status = container.wait(timeout=timeout)
    except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError) as exc:
        if not isinstance(exc, requests.exceptions.ReadTimeout) and "timed out" not in str(exc).lower():
            with engine_errors("Waiting for the container"):
                raise
        with engine_errors("Stopping the container after its time limit"):
            container.reload()
            if container.status == "running":
                container.kill()
        return -9, True
    return int(status.get("StatusCode", -1)), False


def _tar_file(name: str, data: bytes) -> bytes:
    """One file as a tar archive that ends at its two end-of-archive blocks.

    tarfile pads an archive to a whole record (10 KB); Podman's archive API stops reading at the end
    blocks and then fails the upload with "write |1: broken pipe" when the padding is still being
    written (a race in its copier: containers/buildah#6573). So the padding is not sent.
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.uid, info.gid, info.mtime = len(data), 0o644, UID, UID, int(time.time())
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()[: tar.offset]  # tar.offset: just past the end blocks, before the record padding


def _logs(container: Any, *, stdout: bool) -> str:
    """One stream of the container's output, held within limits.OUTPUT_BYTES (its head and tail: issue 17)."""
    kept = Capped(limits.OUTPUT_BYTES.value)
    for chunk in container.logs(stdout=stdout, stderr=not stdout, stream=True, follow=False):
        kept.append(chunk)
    return kept.join().decode(errors="replace")


def _read_file(container: Any, path: str) -> bytes | None:
    import docker.errors

    try:
        chunks, stat = container.get_archive(path)
    except docker.errors.NotFound:
        return None
    where = "the model's answer (the runner's result.json in the container)"
    limits.JSON_BYTES.check(int((stat or {}).get("size") or 0), where, ModelRunError, "Check how large the model's predictions are.")
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks)), mode="r") as tar:
        member = next((m for m in tar.getmembers() if m.isfile()), None)
        handle = tar.extractfile(member) if member else None
        return handle.read() if handle else None
