"""A warm verify's runner, started before envforge's last checks: the model's Python imports MLflow meanwhile.

A warm `envforge verify` spent its first half second on checks before the runner started (the artifact digests,
the inputs, the env's health and damage checks, the machine's shared libraries, the sandbox probe), and the
runner then spent seconds importing mlflow.pyfunc: one after the other, on a machine with a spare core (issue 33).

Here, as soon as the model is resolved and its spec names an env that is already built (its marker says so), on
a local backend (a new env: as soon as it is built, ahead of the check of the machine's shared libraries): the
env's Python starts in the very sandbox the run would use (executor.local_executor), imports mlflow.pyfunc
(runner/run_model.head_start) and waits for its request; nothing of the model is read before it. envforge
does all its checks as before, then `hand_over` gives the request only if the env it checked is the one
the runner runs in (reused as it was: same path, same interpreter) and the runner still waits; anything else is
`abort`ed (killed: it has read nothing of the model) and the run starts as it always did.
The runner says when it waits (a file beside its request): one that ended before is never handed the model,
whatever the timing, so nothing is blamed on the model from it. The --predict-timeout starts at the hand-over
(processes/proc.Deadline); before it the runner may wait HOLD seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from envforge.backends.base import Backend, ContainerBackend, Env
from envforge.backends.run_options import RunOptions
from envforge.errors import EnvforgeError
from envforge.execution.executor import LocalExecutor, local_executor, read_answer
from envforge.processes.proc import Deadline, Outcome
from envforge.spec import EnvSpec
from envforge.store.layout import env_dir
from envforge.store.marker import read_marker

HOLD = 3600.0  # seconds a runner started ahead may wait for its request (then it is killed, and not used)


@dataclass
class HeadStart:
    executor: LocalExecutor
    env: Env
    workdir: Path
    deadline: Deadline
    thread: threading.Thread
    started: float
    timeout: float  # the run's --predict-timeout
    ended: list[Any] = field(default_factory=list)  # the runner's Outcome once it exited, or what execute raised
    handed: bool = False
    closed: bool = False

    def fits(self, env: Env) -> bool:
        """The env envforge checked is the one this runner runs in (and its request was not handed over yet)."""
        return env.reused == self.env.reused and env.path == self.env.path and env.python == self.env.python and not self.handed

    def ready(self) -> bool:
        """Wait until the runner waits for its request (its sandbox up, MLflow imported: it said so) or has ended:
        True for the first. A runner that ended before (a sandbox that no longer starts, an interpreter that
        crashed) is never handed the model: the usual run goes ahead and finds out what is wrong itself."""
        waiting = self.workdir / "request.json.waiting"
        if not waiting.exists():  # still starting: it gets the --predict-timeout to get there, as a run would
            self.deadline.restart(self.timeout)
        while self.thread.is_alive() and not waiting.exists():
            time.sleep(0.005)
        return self.thread.is_alive() and waiting.exists()

    def hand_over(self, request: dict[str, Any], timeout: float) -> tuple[Outcome, dict[str, Any] | None]:
        """Give the runner its request, start its --predict-timeout, wait for its answer (as _run_request)."""
        _write(self.workdir / "request.json", request)
        self.handed = True
        waited = time.monotonic() - self.started
        self.deadline.restart(timeout)
        self.thread.join()
        ended = self.ended[0]
        if isinstance(ended, BaseException):
            raise ended
        data = read_answer(self.workdir / "result.json")
        self.abort()  # nothing left to stop: removes the work directory
        return replace(ended, seconds=max(0.0, ended.seconds - waited)), data if isinstance(data, dict) else None

    def abort(self) -> None:
        """Stop the runner now (its process group killed: before its request it has read nothing of the model;
        after, the run was interrupted) and clean up."""
        if self.closed:
            return
        self.closed = True
        if self.thread.is_alive():
            self.deadline.restart(0)
            self.thread.join()
        shutil.rmtree(self.workdir, ignore_errors=True)


def start(backend: Backend, spec: EnvSpec, model_dir: Path, options: RunOptions, timeout: float,
          env: Env | None = None) -> HeadStart | None:
    """The runner of `env` (default: the spec's env if it is already built, as its marker says), started ahead
    of its request; None where there is none to start (a container backend, no built env)."""
    if isinstance(backend, ContainerBackend):
        return None
    env = env or _built(spec)
    if env is None:
        return None
    try:  # a sandbox that cannot start ends the runner before hand_over: not used
        executor = replace(local_executor(backend, env, [model_dir], options, str(model_dir), trust_earlier_probe=True),
                           wait_for_request=True)
    except EnvforgeError:  # --sandbox on where it cannot run, say: the usual run says so, at its own step
        return None
    workdir = Path(tempfile.mkdtemp(prefix="envforge-run-"))
    deadline = Deadline(HOLD)
    head = HeadStart(executor, env, workdir, deadline, threading.Thread(target=lambda: None), time.monotonic(), timeout)

    def run() -> None:
        try:
            head.ended.append(executor.execute(workdir, timeout, deadline))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever uses this run (hand_over), or dropped (abort)
            head.ended.append(exc)

    head.thread = threading.Thread(target=run, name="envforge-head-start", daemon=True)
    head.thread.start()
    return head


def _built(spec: EnvSpec) -> Env | None:
    """The spec's env as its marker describes it, not yet checked (get_env checks it meanwhile)."""
    dest = env_dir(spec.backend, spec.key)
    state = read_marker(dest)
    if not state or state.get("key") != spec.key or not state.get("python"):
        return None
    return Env(path=dest, key=spec.key, backend=spec.backend, python=str(state["python"]),
               python_version=str(state.get("python_version")), interpreter_reason="", interpreter_warning=None,
               installed=(), reused=True, build_seconds=0.0)


def _write(path: Path, request: dict[str, Any]) -> None:
    """Whole, then renamed into place: the waiting runner never reads half a request."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(request))
    os.replace(tmp, path)
