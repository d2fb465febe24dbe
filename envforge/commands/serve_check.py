"""`envforge serve-check`: the serving path, which pyfunc.predict alone does not exercise.

MLflow's own scoring server is started for the model with the rebuilt env's Python
(`python -m mlflow models serve -m DIR --env-manager local`, on a free loopback port),
the model's serving_input_example.json is POSTed to /invocations as a client would send it,
and the answer is compared with the prediction recorded for the model's input example
(the rule is in envforge.compare.serving). Payload parsing and schema enforcement happen in
the server, so their failures show up here. The server is stopped whatever happens.
"""

from __future__ import annotations

import socket
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from envforge.backends.base import Env
from envforge.backends.build_options import BuildOptions
from envforge.backends.run_options import RunOptions
from envforge.bounds import limits
from envforge.bounds.parsing import load_json
from envforge.building.option_parts import split_options
from envforge.commands import verification_steps as steps
from envforge.compare import DEFAULT_ATOL, DEFAULT_RTOL, Comparison
from envforge.compare.serving import compare_served
from envforge.errors import EnvforgeError, ModelRunError, UsageError
from envforge.execution.executor import local_executor, note_sandbox
from envforge.execution.sandbox import Sandbox, sandboxed
from envforge.modeldir import expectations as expectations_mod
from envforge.modeldir.download_options import DownloadOptions
from envforge.modeldir.examples import MODEL_EXAMPLE
from envforge.pipeline import LoadedModel
from envforge.processes.proc import Background, child_env
from envforge.progress import Progress, Silent, timed
from envforge.result import FAILED, PASSED, UNVERIFIED, VerifyResult
from envforge.spec.paths import inside

SERVING_EXAMPLE = "serving_input_example"


@dataclass(frozen=True)
class ServeOptions:
    backend: str = "uv"
    tracking_uri: str | None = None
    expected: str | None = None
    lock: str | None = None
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    refresh: bool = False
    start_timeout: float = 180.0
    request_timeout: float = 120.0
    build: BuildOptions = field(default_factory=BuildOptions)
    run: RunOptions = field(default_factory=RunOptions)
    download: DownloadOptions = field(default_factory=DownloadOptions)


def serve_check(uri: str, *, progress: Progress | None = None, **options: Any) -> VerifyResult:
    """Serve the model from its rebuilt env and check the answer. Never raises EnvforgeError."""
    parts, own = split_options(options, ServeOptions)
    opts = ServeOptions(build=parts.build, run=parts.run, download=parts.download, **own)
    progress = progress or Silent()
    result = VerifyResult(uri=uri, backend=opts.backend)
    try:
        with ExitStack() as stack:  # unwinds in reverse: the server stops before its log is deleted
            return _serve_check(uri, opts, progress, result, stack)
    except EnvforgeError as exc:
        return result.error_from(exc)


def _serve_check(uri: str, opts: ServeOptions, progress: Progress, result: VerifyResult, stack: ExitStack) -> VerifyResult:
    """verify's steps (commands/verification_steps.py) up to the build, then the server instead of the runner."""
    check = steps.ModelCheck(result)
    with timed(result.steps, progress, "resolve") as step:
        loaded = steps.resolve(check, uri, step, backend=opts.backend, tracking_uri=opts.tracking_uri, refresh=opts.refresh,
                               lock=opts.lock, build=opts.build, download=opts.download, progress=progress.update)
        payload = serving_payload(loaded)
        expected = steps.find_expected(check, opts.expected, opts.tracking_uri)
    with timed(result.steps, progress, "build") as step:
        env = steps.build(stack, check, opts.build, progress.update, step, limits=opts.run, machine_checks=False)
    with timed(result.steps, progress, "serve") as step:
        logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="envforge-serve-")))
        executor = local_executor(loaded.backend, env, [loaded.model.path], opts.run, str(loaded.model.path))
        sandbox = replace(executor.sandbox, network=True) if executor.sandbox else None
        server, port = _start(loaded, env, logs / "server.log", opts.start_timeout, stack, sandbox)
        note_sandbox(result, replace(executor, sandbox=sandbox))  # with the network: the host must reach the server
        step.detail = f"scoring server ready on 127.0.0.1:{port}"
    with timed(result.steps, progress, "request") as step:
        start = time.monotonic()
        status, body = _post(port, payload, opts.request_timeout, server)
        step.detail = f"HTTP {status}"
        server.stop()
    result.examples = [{"name": SERVING_EXAMPLE, "ok": status == 200, "seconds": time.monotonic() - start,
                        "stage": "serve", "http_status": status, "source": "example", "detail": "the logged request body, POSTed"}]
    return _judge(result, status, body, server.tail(25), expected, opts, progress)


def serving_payload(loaded: LoadedModel) -> bytes:
    """The model's serving_input_example.json: the request body a client sends."""
    declared = loaded.mlmodel.example.serving_path if loaded.mlmodel.example else None
    path = inside(loaded.model.path, declared or "serving_input_example.json", "serving_input_path")
    if not path.is_file():
        raise UsageError(f"{loaded.model.uri} has no serving_input_example.json, so there is no request to send.",
                         "Log the model with an input_example (MLflow then writes the serving example too).")
    return limits.read_bounded(path, "json", where=str(path), error=UsageError, remedy="Log a smaller input example.").encode()


def _start(loaded: LoadedModel, env: Env, log: Path, timeout: float, stack: ExitStack,
           sandbox: Sandbox | None = None) -> tuple[Background, int]:
    bin_dir = str(Path(env.python).parent)
    variables = child_env({"VIRTUAL_ENV": str(env.path)})
    variables["PATH"] = bin_dir + ":" + variables.get("PATH", "/usr/bin:/bin")  # MLflow execs the env's uvicorn by name
    deadline = time.monotonic() + timeout
    for attempt in range(3):
        port = _free_port()
        argv = loaded.backend.command(env.path, env.python, [
            "python", "-m", "mlflow", "models", "serve", "-m", str(loaded.model.path), "--env-manager", "local",
            "-p", str(port), "-h", "127.0.0.1", "-w", "1"])
        run_argv, run_env = stack.enter_context(sandboxed(sandbox, argv, env.python, log.parent, variables, timeout))
        server = stack.enter_context(Background(run_argv, env=run_env, log=str(log), cwd=str(log.parent)))
        if _wait_ready(server, port, deadline):
            return server, port
        server.stop()
        tail = server.tail(25)
        if "address already in use" in tail.lower() and attempt < 2:
            continue  # another process took the free port first
        if server.proc.returncode is not None and time.monotonic() < deadline:
            raise ModelRunError(f"The scoring server exited with code {server.proc.returncode} before it was ready:\n{tail}\n",
                                "Its log above names the cause; `envforge run URI -- python -m mlflow models serve -m $MODEL_DIR "
                                "--env-manager local` reproduces it.")
        break
    raise ModelRunError(f"The scoring server was not ready within {timeout:.0f} s:\n{server.tail(25)}\n",
                        "Raise --start-timeout if the model is slow to load.")


def _wait_ready(server: Background, port: int, deadline: float) -> bool:
    import http.client

    while time.monotonic() < deadline and server.running():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/ping")
            if connection.getresponse().status == 200:
                return True
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.2)
    return False


def _post(port: int, payload: bytes, timeout: float, server: Background) -> tuple[int, bytes]:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", "/invocations", body=payload, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        limit = limits.JSON_BYTES.value
        body = response.read(limit + 1)  # a server answering gigabytes is cut, not held (issue 17)
        if len(body) > limit:
            limits.JSON_BYTES.check(len(body), "the scoring server's answer", ModelRunError, "Check what the model returns.",
                                    at_least=True)
        return response.status, body
    except OSError as exc:
        what = f"did not answer within {timeout:.0f} s" if isinstance(exc, TimeoutError) else f"failed: {exc}"
        raise ModelRunError(f"The request to the scoring server {what}.\n{server.tail(25)}\n",
                            "Raise --request-timeout if predicting is legitimately slow.") from None
    finally:
        connection.close()


def _judge(result: VerifyResult, status: int, body: bytes, log_tail: str, expected: expectations_mod.Expectations | None,
           opts: ServeOptions, progress: Progress) -> VerifyResult:
    text = body.decode("utf-8", errors="replace")
    try:
        answer = load_json(text, "the scoring server's answer", ModelRunError, "Check what the model returns.")
    except ValueError:
        answer = None
    if status != 200:
        error = answer if isinstance(answer, dict) else {}
        message = str(error.get("message") or text.strip() or "(empty body)")
        code = f" ({error['error_code']})" if error.get("error_code") else ""
        result.model_error = {"stage": "serve", "example": SERVING_EXAMPLE, "type": f"HTTP {status}{code}",
                              "message": message[:4000], "traceback": str(error.get("stack_trace") or log_tail)[-20000:]}
        return result.finish(FAILED, f"the scoring server answered HTTP {status}{code}: {headline(message)}")
    if answer is None:
        return result.finish(FAILED, f"the scoring server answered HTTP 200 with a body that is not JSON: {text[:200]!r}")
    served = answer["predictions"] if isinstance(answer, dict) and "predictions" in answer else answer
    if expected is None or MODEL_EXAMPLE not in expected.predictions():
        why = "no expectations were recorded" if expected is None else f"the expectations hold no prediction for {MODEL_EXAMPLE!r}"
        return result.finish(UNVERIFIED, f"the scoring server answered HTTP 200, but {why} (run `envforge record`)")
    with timed(result.steps, progress, "compare") as step:
        result.expectations = expected.source
        example = compare_served(MODEL_EXAMPLE, expected.predictions()[MODEL_EXAMPLE], served, rtol=opts.rtol, atol=opts.atol)
        result.comparison = Comparison(example.ok, (example,), opts.rtol, opts.atol)
        step.detail = "match" if example.ok else "differ"
    if example.ok:
        return result.finish(PASSED, "the scoring server's answer to serving_input_example.json matches the recorded prediction")
    return result.finish(FAILED, "the scoring server's answer differs from the recorded prediction: " + result.comparison.summary())


def headline(message: str) -> str:
    """The most specific line of a scoring server error: MLflow chains "...: Error: <cause>"."""
    text = message.strip()
    cause = text.rsplit("Error: ", 1)[-1] if "Error: " in text else text
    lines = cause.strip().splitlines() or [""]
    return lines[0][:300]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
