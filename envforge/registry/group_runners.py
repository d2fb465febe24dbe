"""Where the environment groups run: `local` (a thread per group, `--workers` at once; the work is
in subprocesses) or `dask` (one task per group on a Dask distributed cluster). Both hand each
group's outcome to `on_done` as soon as it finishes (`local` also each model as soon as it is judged), and return True when Ctrl-C stopped the run."""

from __future__ import annotations

import os
import threading
import traceback
from collections.abc import Callable

from envforge.errors import TaskError, UsageError
from envforge.processes.cores import usable_cores
from envforge.redact import redact
from envforge.registry.pacing import Pacing
from envforge.registry.plan import Group, RegistryOptions
from envforge.registry.work import GroupOutcome, OnJudged, verify_group
from envforge.result import VerifyResult

OnDone = Callable[[GroupOutcome], None]


def default_workers() -> int:
    """The cores this process may use (envforge/processes/cores.py): each group's work is an installer or a runner process, about one core each."""
    return usable_cores()


def run_local(groups: list[Group], options: RegistryOptions, workers: int, on_done: OnDone,
              on_judged: OnJudged | None = None) -> bool:
    """on_judged gets each model as soon as it is judged, from the group's thread (a Dask worker is
    another process: there, results arrive by group)."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    from envforge.processes.proc import kill_running

    stop = threading.Event()
    pacing = Pacing(max(1, workers))  # --workers builds and --workers runners at once (registry/pacing.py)
    pool = ThreadPoolExecutor(max_workers=pacing.threads, thread_name_prefix="envforge-group")
    pending = {pool.submit(verify_group, g, options, stop.is_set, on_judged, pacing): g for g in groups}
    try:
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                group = pending.pop(future)
                on_done(_outcome(group, future, options.backend))
        return False
    except KeyboardInterrupt:
        stop.set()
        for future in pending:
            future.cancel()
        while any(not f.done() for f in pending):  # running groups: kill their children until they return
            kill_running()
            wait(pending, timeout=0.2)
        for future, group in pending.items():
            on_done(interrupted(group, options.backend) if future.cancelled() else _outcome(group, future, options.backend))
        return True
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run_dask(groups: list[Group], options: RegistryOptions, scheduler: str | None, on_done: OnDone) -> bool:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise UsageError("--executor dask needs the `distributed` package.",
                         "Install envforge with the extra: pip install 'envforge-mlflow[registry]'.") from None
    if not scheduler:
        raise UsageError("--executor dask needs --scheduler.", "Pass the scheduler's address, e.g. --scheduler tcp://scheduler:8786.")
    try:
        client = Client(scheduler, timeout=30)
    except (OSError, TimeoutError) as exc:
        raise UsageError(f"Could not connect to the Dask scheduler {redact(scheduler)}: {exc}.",
                         "Check the address and that `dask scheduler` is running.") from None
    try:
        futures = {client.submit(verify_group, g, options, pure=False, key=f"envforge-group-{g.key[:16]}-{id(g):x}"): g for g in groups}
        seen = set()
        try:
            for future in as_completed(list(futures)):
                seen.add(future.key)
                on_done(_outcome(futures[future], future, options.backend))
            return False
        except KeyboardInterrupt:
            client.cancel([f for f in futures if f.key not in seen])
            for future, group in futures.items():
                if future.key not in seen:
                    on_done(interrupted(group, options.backend))
            return True
    finally:
        client.close()


def _outcome(group: Group, future: object, backend: str) -> GroupOutcome:
    try:
        return future.result()  # type: ignore[attr-defined, no-any-return]
    except Exception as exc:  # a bug or a lost worker: this group's models get an error, the run goes on
        if os.environ.get("ENVFORGE_DEBUG"):  # what the error's remedy asks for: the traceback, on stderr
            traceback.print_exception(exc)
        return failed(group, f"{type(exc).__name__}: {exc}", backend)


def failed(group: Group, message: str, backend: str) -> GroupOutcome:
    outcome = GroupOutcome(key=group.key)
    error = TaskError(f"The task for this environment group failed: {message}", "Rerun with ENVFORGE_DEBUG=1 and report it.")
    outcome.results = [(t, VerifyResult.from_error(t.uri, backend, error)) for t in group.targets]
    return outcome


def interrupted(group: Group, backend: str) -> GroupOutcome:
    from envforge.registry import interruption

    outcome = GroupOutcome(key=group.key, env="interrupted")
    outcome.results = [(t, interruption.new(t.uri, backend)) for t in group.targets]
    return outcome
