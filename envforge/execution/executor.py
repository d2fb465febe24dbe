"""Run the runner script inside an environment and read back what it wrote."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from envforge.backends.base import Backend, BuildOptions, ContainerBackend, Env, Executor, Log
from envforge.backends.run_options import RunOptions
from envforge.bounds import limits
from envforge.bounds.parsing import load_json
from envforge.errors import EnvforgeError, ModelRunError
from envforge.execution import answer_watch, install_jail, java, pycache
from envforge.execution.sandbox import UNSANDBOXED, Limits, Sandbox, choose, interpreter_paths
from envforge.processes.proc import Deadline, Outcome, child_env, passed_env, run
from envforge.redact import redact
from envforge.runner import script_path


@dataclass(frozen=True)
class RunnerOutput:
    data: dict[str, Any]
    seconds: float
    stderr_tail: str
    executor: Any = field(default=None, repr=False, compare=False)  # what ran it (its sandbox report: note_sandbox)

    @property
    def load_error(self) -> dict[str, Any] | None:
        load = self.data.get("load") or {}
        return None if load.get("ok") else load.get("error") or {"type": "Error", "message": "the model did not load"}

    @property
    def examples(self) -> list[dict[str, Any]]:
        return list(self.data.get("examples") or [])

    def predictions(self) -> dict[str, dict[str, Any]]:
        return {e["name"]: e["prediction"] for e in self.examples if e.get("ok")}

    def failures(self) -> list[dict[str, Any]]:
        return [e for e in self.examples if not e.get("ok") and not e.get("unknowable")]

    @property
    def warnings(self) -> list[str]:
        """What the model's process warned while loading and predicting (runner/warning_catch.py), as strings."""
        return [str(w) for w in (self.data.get("warnings") or []) if isinstance(w, str)][:21]

    def unknowable(self) -> list[dict[str, Any]]:
        """Synthesized examples whose inputs the loaded model could not tell (modeldir/synthesize.py)."""
        return [e for e in self.examples if e.get("unknowable")]


def run_runner(
    python_argv: list[str],
    model_dir: Path,
    examples: list[dict[str, Any]],
    *,
    timeout: float,
    freeze: bool = False,
    env: dict[str, str] | None = None,
) -> RunnerOutput:
    """python_argv: how to start the env's Python (e.g. [env/bin/python, "-I"])."""
    return execute_runner(LocalExecutor(list(python_argv), str(model_dir), env), examples, timeout=timeout, freeze=freeze)


@dataclass(frozen=True)
class LocalExecutor:
    """The runner as a host subprocess of the env's Python (every backend but containers)."""

    python_argv: list[str]
    model_dir: str
    env: dict[str, str] | None = None
    python: str = ""                 # the env's interpreter (the sandbox's first process runs on it)
    sandbox: Sandbox | None = None   # None: the runner runs unconfined (--sandbox off, or auto where it cannot)
    warning: str | None = None       # why it runs unconfined under --sandbox auto
    installs: str | None = None      # what the env's install steps could reach (execution/install_jail.py)
    fresh_env: Path | None = None    # a new env: its first run's imports are compiled ahead (execution/pycache.py)
    first_imports: tuple[str, ...] = ()  # the modules that run will import (pycache.first_imports)
    wait_for_request: bool = False   # started ahead of its request (execution/head_start.py)

    def execute(self, workdir: Path, timeout: float, deadline: Deadline | None = None) -> Outcome:
        """Run the runner on workdir's request; killed after `timeout` seconds, or when `deadline` passes."""
        argv = [*self.python_argv, str(script_path()), str(workdir / "request.json"), str(workdir / "result.json")]
        if self.wait_for_request:
            argv.append("--wait-for-request")
        env = self.env if self.env is not None else child_env()
        keep = limits.OUTPUT_BYTES.value  # what the model prints is held only up to this (head and tail)
        if self.sandbox is None:
            with pycache.compiling_ahead(self.fresh_env, self.python, self.first_imports, workdir):
                return run(argv, timeout=deadline or timeout, env=env, cwd=str(workdir), keep=keep)
        with self.sandbox.wrap(argv, self.python, workdir, env, timeout, self.fresh_env, self.first_imports) as (wrapped, wrapped_env):
            return run(wrapped, timeout=deadline or timeout, env=wrapped_env, cwd=str(workdir), keep=keep)

    def sandbox_report(self) -> dict[str, Any]:
        """The JSON report's `sandbox`: what confined the model (or that nothing did, and why)."""
        extra = {"installs": self.installs} if self.installs else {}
        if self.sandbox is not None:
            return {**self.sandbox.report, **extra}
        return {**UNSANDBOXED, "reason": self.warning or "--sandbox off", **extra}

    def finish(self, passed: bool) -> dict[str, Any] | None:
        return None


@contextmanager
def open_executor(backend: Backend, env: Env, model_dir: Path, options: BuildOptions, run: RunOptions, log: Log) -> Iterator[Executor]:
    """How to run the runner in `env`: in a container for container backends (its model image built with
    `options`), else a host subprocess; either within `run`'s limits."""
    if isinstance(backend, ContainerBackend):
        with backend.executor(env, model_dir, options, run, log) as executor:
            yield executor
    else:
        yield local_executor(backend, env, [model_dir], run, str(model_dir))


def local_executor(backend: Backend, env: Env, model_dirs: list[Path], options: RunOptions, model_dir: str,
                   trust_earlier_probe: bool = False) -> LocalExecutor:
    """The runner as a host subprocess, in the sandbox that --sandbox chose (execution/sandbox.py)."""
    limits = Limits(memory=options.memory, processes=options.max_processes, file_size=options.max_file_size,
                    open_files=options.max_open_files)
    jvm = java.for_env(env.path)  # pyspark in the env: the JRE's files outside /usr, PYSPARK_PYTHON
    read_only = [*interpreter_paths(env.path, env.python), *(str(d.resolve()) for d in model_dirs), *(jvm.read_only if jvm else ())]
    sandbox, warning = choose(options.sandbox, limits, read_only, trust_earlier_probe)
    fresh = None if env.reused else env.path
    return LocalExecutor(backend.command(env.path, env.python, ["python", "-I"]), model_dir,
                         {**child_env(passed_env(options.pass_env)), **(jvm.variables(env.python) if jvm else {})}, env.python, sandbox, warning,
                         install_jail.describe(options.sandbox, trust_earlier_probe), fresh, pycache.first_imports(model_dirs) if fresh else ())


def note_sandbox(result: Any, executor: Executor) -> None:
    """The sandbox's part of a result (a VerifyResult): its `sandbox` report, and a warning when it could not be used."""
    report = getattr(executor, "sandbox_report", None)
    if report is None:
        return
    result.sandbox = report()
    warning = getattr(executor, "warning", None)
    if warning and warning not in result.warnings:
        result.warnings.append(warning)


def execute_runner(executor: Executor, examples: list[dict[str, Any]], *, timeout: float, freeze: bool = False,
                   head: Any = None) -> RunnerOutput:
    """One model: write the request, run the runner through `executor`, read back what it wrote; with `head`
    (execution/head_start.py: a runner of `executor` started ahead), the request is handed to that runner."""
    request = {"model_dir": executor.model_dir, "examples": examples, "freeze": freeze}
    outcome, data = head.hand_over(request, timeout) if head is not None else _run_request(executor, request, timeout)
    sandbox = getattr(executor, "sandbox", None)
    if sandbox is not None:
        sandbox.check(data, outcome)  # a limit hit, a process left running: named
    if outcome.timed_out:
        raise ModelRunError(
            f"The model did not finish loading and predicting within {timeout:.0f} s.",
            "Raise --predict-timeout if the model is legitimately slow, or look for a hang in its predict().",
        )
    if data is None:
        raise ModelRunError(
            f"The model's process exited with code {outcome.returncode} before writing a result "
            f"(it may have called exit() or crashed).\n{redact(outcome.tail(15))}\n",
            "Run `envforge shell` on the model to investigate inside the rebuilt environment.",
        )
    return RunnerOutput(data=data, seconds=outcome.seconds, stderr_tail=outcome.tail(15))


def _run_request(executor: Executor, request: dict[str, Any], timeout: float,
                 on_answer: Callable[[dict[str, Any]], None] | None = None) -> tuple[Outcome, dict[str, Any] | None]:
    """The one loop every run goes through: request.json in, the runner, result.json out (None if it wrote none);
    on_answer sees each answer the runner writes while it still runs (answer_watch.py)."""
    read = _group_reader(len(request["models"])) if "models" in request else read_answer
    with tempfile.TemporaryDirectory(prefix="envforge-run-") as tmp:
        (Path(tmp) / "request.json").write_text(json.dumps(request))
        with answer_watch.watching(Path(tmp) / "result.json", on_answer, read):
            outcome = executor.execute(Path(tmp), timeout)
        data = read(Path(tmp) / "result.json")
    return outcome, data if isinstance(data, dict) else None


def _group_reader(count: int) -> Callable[[Path], Any]:
    """A reader of a several-model runner's answer: result.json says how many models' files are whole
    (result.json.N.json, one per model, runner/run_model.run_many); each is read once, bounded on its own (a model
    whose answer is over a limit gets that as its load error, the others keep theirs), and the answer is
    handed on as one document {"models": [...], ...} as before."""
    entries: dict[int, dict[str, Any]] = {}

    def read(path: Path) -> Any:
        header = read_answer(path)
        if not isinstance(header, dict):
            return header
        written = header.pop("models_written", 0)
        for i in range(min(written if isinstance(written, int) else 0, count)):
            if i not in entries:
                try:
                    entry = read_answer(path.with_name(f"{path.name}.{i}.json"))
                except ModelRunError as exc:  # this model's answer is over a limit: its verdict, not the group's
                    entry = {**_not_run(exc.paragraph()), "seconds": 0.0}
                entries[i] = entry if isinstance(entry, dict) else {**_not_run("its answer file is not JSON"), "seconds": 0.0}
        return {**header, "models": [entries[i] for i in sorted(entries)]}

    return read


def read_answer(path: Path) -> Any:
    """The runner's result.json, or None if it wrote none (or not JSON); bounded like every untrusted
    input (issue 17): an answer over envforge's JSON limits is a ModelRunError saying so."""
    if not path.is_file():
        return None
    where, remedy = "the model's answer (the runner's result.json)", "Check how large the model's predictions are."
    try:
        return load_json(limits.read_bounded(path, "json", where=where, error=ModelRunError, remedy=remedy),
                         where, ModelRunError, remedy)
    except ValueError:
        return None


OnOutput = Callable[[int, RunnerOutput], None]


def run_group(backend: Backend, env: Env, models: list[tuple[Path, list[dict[str, Any]]]], options: BuildOptions, run: RunOptions, *,
              model_timeout: float, log: Log, startup_timeout: float = 300.0,
              on_output: OnOutput | None = None) -> list[RunnerOutput]:
    """Several models of one environment. On the host: ONE runner process for all of them (mlflow is imported
    once), each model with `model_timeout` seconds (enforced inside the runner). In containers: one container
    per model, of the one env image. Never raises for one model: a model that did not finish (killed, crashed,
    timed out, its image failed to build) gets an output whose load error says so. on_output(i, output) gets a
    model's output as soon as it is final (see run_runner_many); the returned list holds every output either way."""
    if isinstance(backend, ContainerBackend):
        outputs = []
        for i, (model_dir, runs) in enumerate(models):
            outputs.append(_in_container(backend, env, model_dir, runs, options, run, model_timeout, log))
            if on_output:
                on_output(i, outputs[-1])
        return outputs
    executor = local_executor(backend, env, [d for d, _ in models], run, "")

    def ran_by(output: RunnerOutput) -> RunnerOutput:
        return replace(output, executor=executor)  # each result gets the sandbox section verify's has

    outputs = run_runner_many(executor.python_argv, models, model_timeout=model_timeout, env=executor.env,
                              startup_timeout=startup_timeout, executor=executor,
                              on_output=(lambda i, output: on_output(i, ran_by(output))) if on_output else None)
    return [ran_by(output) for output in outputs]


def run_runner_many(python_argv: list[str], models: list[tuple[Path, list[dict[str, Any]]]], *, model_timeout: float,
                    env: dict[str, str] | None = None, startup_timeout: float = 300.0,
                    executor: LocalExecutor | None = None, on_output: OnOutput | None = None) -> list[RunnerOutput]:
    """Several models in ONE host runner process started as `python_argv` (or by `executor`, which may
    sandbox it); the process as a whole gets the models' timeouts added up plus `startup_timeout`.
    on_output(i, output): model i's output while the runner goes on with the next, for a model that loaded
    and ran every example (nothing that happens later can change it); any other model's output is final
    only when the process has ended (the sandbox's verdict may replace it), and on_output gets it then."""
    executor = executor or LocalExecutor(list(python_argv), "", env)
    entries = [{"model_dir": str(d), "examples": ex, "timeout": model_timeout} for d, ex in models]
    handed: set[int] = set()
    raised: list[BaseException] = []  # on_output's, from the watch thread: raised here once the runner is done

    def hand_on(data: dict[str, Any]) -> None:
        common = {k: v for k, v in data.items() if k != "models"}
        for i, entry in enumerate(list(data.get("models") or [])[:len(models)]):
            if i not in handed and not raised and isinstance(entry, dict) and "seconds" in entry and _all_ok(entry):
                handed.add(i)
                try:
                    on_output(i, RunnerOutput(data={**common, **entry}, seconds=float(entry["seconds"] or 0.0), stderr_tail=""))  # type: ignore[misc]
                except Exception as exc:
                    raised.append(exc)

    try:
        outcome, data = _run_request(executor, {"models": entries}, startup_timeout + model_timeout * len(models),
                                     hand_on if on_output else None)
    except ModelRunError as exc:  # result.json itself (the env's freeze) is over a limit: no model of the group can be judged
        return _handed_on([RunnerOutput(data=_not_run(exc.paragraph()), seconds=0.0, stderr_tail="") for _ in models],
                          on_output, handed)
    if on_output and data:
        hand_on(data)  # the ones finished since the watch last looked
    if raised:
        raise raised[0]
    stopped = _sandbox_verdict(executor, data, outcome)
    done = list((data or {}).get("models") or [])
    common = {k: v for k, v in (data or {}).items() if k != "models"}
    why = ("the runner process timed out" if outcome.timed_out else f"the runner process exited with code {outcome.returncode}")
    outputs = []
    for i in range(len(models)):
        if stopped and not _all_ok(done[i] if i < len(done) else {}):
            entry = _not_run(stopped)
        elif i < len(done) and "load" in done[i] and "seconds" in done[i]:  # "seconds" is written when a model is done
            entry = done[i]
        else:  # never reached, or interrupted half-way: the process ended before writing this model
            entry = _not_run(f"{why} before this model finished\n{redact(outcome.tail(15))}")
        outputs.append(RunnerOutput(data={**common, **entry}, seconds=float(entry.get("seconds") or 0.0),
                                    stderr_tail=outcome.tail(15)))
    return _handed_on(outputs, on_output, handed)


def _handed_on(outputs: list[RunnerOutput], on_output: OnOutput | None, handed: set[int]) -> list[RunnerOutput]:
    """Give on_output every output it has not had yet; return them all."""
    for i, output in enumerate(outputs):
        if on_output and i not in handed:
            on_output(i, output)
    return outputs


def _in_container(backend: ContainerBackend, env: Env, model_dir: Path, runs: list[dict[str, Any]], options: BuildOptions,
                  run: RunOptions, timeout: float, log: Log) -> RunnerOutput:
    try:
        with backend.executor(env, model_dir, options, run, log) as executor:
            output = execute_runner(executor, runs, timeout=timeout)
            executor.finish(False)
            return replace(output, executor=executor)
    except EnvforgeError as exc:
        return RunnerOutput(data=_not_run(exc.paragraph()), seconds=0.0, stderr_tail="")


def _sandbox_verdict(executor: LocalExecutor, data: dict[str, Any] | None, outcome: Outcome) -> str | None:
    """The sandbox's finding on a run of several models (a limit hit, a process left running), or None."""
    if executor.sandbox is None:
        return None
    try:
        executor.sandbox.check(data, outcome)
    except ModelRunError as exc:
        return exc.paragraph()
    return None


def _all_ok(entry: dict[str, Any]) -> bool:
    return bool((entry.get("load") or {}).get("ok")) and all(e.get("ok") for e in entry.get("examples") or [])


def _not_run(message: str) -> dict[str, Any]:
    return {"load": {"ok": False, "error": {"type": "RunnerError", "message": message}}}
