"""envforge's runner: load an MLflow model, predict on its input examples, write typed JSON.

Executed by the rebuilt environment's own Python as a script:

    python -I run_model.py REQUEST.json RESULT.json

It imports only the standard library and what the model's environment has (mlflow, pandas,
numpy): never envforge. The result goes to RESULT.json, not stdout, so nothing the model
prints can pass for a result. Every failure is reported as data with the model's traceback.
"""

import base64
import datetime
import decimal
import json
import math
import os
import signal
import sys
import time
import traceback

RUNNER_VERSION = 1
EARLY_WARNINGS = []  # what importing mlflow warned when it was imported ahead of the request (head_start)


def main(argv):
    request_path, result_path = argv[1], argv[2]
    if os.environ.get("ENVFORGE_LIFELINE") == "stdin":
        watch_lifeline()
    if "--wait-for-request" in argv[3:]:
        head_start(request_path)
    with open(request_path, encoding="utf-8") as handle:
        request = json.load(handle)
    result = {"runner_version": RUNNER_VERSION, "python": "%d.%d.%d" % sys.version_info[:3],
              "executable": sys.executable, "examples": []}
    try:
        if "models" in request:  # several models of one environment: mlflow is imported once
            run_many(request, result, result_path)
        else:
            run(request, result)
    finally:
        write_result(result, result_path)
        note_uncompiled(os.environ.get("ENVFORGE_UNCOMPILED"))
        if "pyspark.context" in sys.modules:  # the JVM a Spark model started ends before the runner does
            helpers("spark_stop").stop()
    return 0


def head_start(request_path):
    """Started ahead (envforge's execution/head_start.py): import mlflow, say so, wait for the whole request; nothing
    of the model is read before it. A failed import fails again in run_one."""
    catcher = helpers("warning_catch").Catcher().start()
    try:
        import mlflow.pyfunc  # noqa: F401
    except BaseException:  # noqa: BLE001
        pass
    EARLY_WARNINGS.extend(catcher.stop())
    open(request_path + ".waiting", "w").close()  # envforge hands the model only to a runner that got this far
    while not os.path.exists(request_path):
        time.sleep(0.005)


def note_uncompiled(path):
    """A sandboxed first run in a new, read-only env (execution/pycache.py): the sources of the modules
    this process imported whose .pyc it could not write there, one per line, for envforge to compile
    into the env. envforge checks every line itself (this process runs the model: it could write anything)."""
    if not path:
        return
    try:
        lines = []
        for module in list(sys.modules.values()):
            spec = getattr(module, "__spec__", None)
            origin, cached = getattr(spec, "origin", None), getattr(spec, "cached", None)
            if isinstance(origin, str) and origin.endswith(".py") and isinstance(cached, str) and not os.path.exists(cached):
                lines.append(origin)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("".join(line + "\n" for line in lines))
    except Exception:  # noqa: BLE001 - a .pyc fewer, never a failed run
        pass


def write_result(result, result_path):
    tmp = result_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(result, handle, default=str)
    os.replace(tmp, result_path)


class ModelTimeout(BaseException):
    """Raised by the alarm when one model of a multi-model request runs past its timeout."""


def run_many(request, result, result_path):
    """request {"models": [{"model_dir", "examples", "timeout"?}, ...]} -> one answer file per model
    (`result_path`.N.json, written when model N ends: a killed process still leaves the finished ones), and
    result {"models_written": N, ...} rewritten after each. Each model's answer is written once and read once,
    whatever the group's size (rewriting the whole group's answer after each model grew with its square), and
    envforge bounds each on its own (one model's huge answer does not take its group's verdicts with it)."""
    del result["examples"]
    result["models_written"] = 0
    result["pid"] = os.getpid()
    if request.get("freeze"):
        result["freeze"] = freeze()
    try:  # once for all models, outside their timeouts; a failure shows again in each model's load
        import mlflow.pyfunc  # noqa: F401
    except BaseException:
        pass
    for index, entry in enumerate(request["models"]):
        model_result = {"model_dir": entry["model_dir"], "examples": []}
        start = time.perf_counter()
        try:
            with alarm(entry.get("timeout")):
                run(dict(entry, freeze=False), model_result)
        except ModelTimeout as exc:  # fired between two examples: recorded like a failing example
            model_result["examples"].append({"name": "(timeout)", "ok": False, "stage": "predict", "error": error_of(exc)})
        model_result["seconds"] = time.perf_counter() - start
        if "mlflow_version" in model_result:
            result["mlflow_version"] = model_result["mlflow_version"]
        write_result(model_result, "%s.%d.json" % (result_path, index))
        result["models_written"] = index + 1  # only after the model's file is whole
        write_result(result, result_path)


class alarm(object):
    """Interrupt the block with ModelTimeout after `seconds` (where SIGALRM exists); remaining
    examples of a timed-out model are not started."""

    def __init__(self, seconds):
        self.seconds = seconds if seconds and hasattr(signal, "setitimer") else None

    def __enter__(self):
        if self.seconds:
            def expire(signum, frame):
                raise ModelTimeout("the model did not finish within %.0f s (--model-timeout)" % self.seconds)
            self.previous = signal.signal(signal.SIGALRM, expire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc):
        if self.seconds:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        return False


def run(request, result):
    """One model; the warnings its process raised meanwhile in result["warnings"] (warning_catch.py)."""
    catcher = helpers("warning_catch").Catcher().start()
    try:
        run_one(request, result)
    finally:
        result["warnings"] = EARLY_WARNINGS + catcher.stop()
        del EARLY_WARNINGS[:]


def run_one(request, result):
    if request.get("freeze"):
        result["freeze"] = freeze()
    model_dir = request["model_dir"]
    start = time.perf_counter()
    try:
        import mlflow
        import mlflow.pyfunc

        result["mlflow_version"] = getattr(mlflow, "__version__", None)
        model = mlflow.pyfunc.load_model(model_dir)
    except BaseException as exc:  # the model's own code runs here: anything can come out
        result["load"] = {"ok": False, "seconds": time.perf_counter() - start, "error": error_of(exc)}
        return
    result["load"] = {"ok": True, "seconds": time.perf_counter() - start}
    for example in request.get("examples", []):
        entry = run_example(model, model_dir, example)
        result["examples"].append(entry)
        if (entry.get("error") or {}).get("type") == "ModelTimeout":
            break


def run_example(model, model_dir, example):
    entry = {"name": example["name"], "ok": False}
    start = time.perf_counter()
    stage = "input"
    try:
        if "introspect" in example:  # no example, no signature: ask the loaded model, report the rows made
            example = introspected(model, example, entry)
            if example is None:
                entry["seconds"] = time.perf_counter() - start
                return entry
        if "payload" in example:
            data, params = decode_payload(example["payload"], example.get("type"), example.get("pandas_orient"))
            if example.get("dtypes") is not None:  # a synthesized example: JSON has no float32, bytes, datetimes
                data = helpers().typed(data, example["dtypes"])
        else:
            data, params = model_example(model_dir)
        stage = "predict"
        prediction = model.predict(data, params=params) if params else model.predict(data)
        stage = "serialize"
        entry["prediction"] = encode(prediction)
        entry["ok"] = True
    except BaseException as exc:
        entry["stage"] = stage
        entry["error"] = error_of(exc)
    entry["seconds"] = time.perf_counter() - start
    return entry


def introspected(model, example, entry):
    """The example with the payload introspection made (also put in `entry`), or None when nothing
    is knowable (then `entry` says why and nothing is predicted)."""
    module = helpers()
    try:
        made = module.introspect(model, example["introspect"])
    except module.Unknowable as exc:
        entry.update(stage="input", unknowable=str(exc))
        return None
    except Exception as exc:  # the model's own attributes can raise anything: then nothing is knowable either
        entry.update(stage="input", unknowable="asking the loaded model for its inputs raised %s: %s" % (type(exc).__name__, exc))
        return None
    entry.update(payload=made["payload"], dtypes=made["dtypes"], detail=made["detail"])
    return dict(example, payload=made["payload"], dtypes=made["dtypes"])


_HELPERS = {}


def helpers(name="introspect"):
    """introspect.py (or another NAME.py) shipped next to this script (`python -I` does not put this directory on sys.path)."""
    if name not in _HELPERS:
        import importlib.util
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".py")
        spec = importlib.util.spec_from_file_location("envforge_runner_" + name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _HELPERS[name] = module
    return _HELPERS[name]


def model_example(model_dir):
    """The model's saved input example, read the way the model's own MLflow reads it."""
    from mlflow.models import Model

    meta = Model.load(model_dir)
    if hasattr(meta, "load_input_example"):
        data = meta.load_input_example(model_dir)
        params = meta.load_input_example_params(model_dir) if hasattr(meta, "load_input_example_params") else None
        if data is not None:
            return data, params
    info = getattr(meta, "saved_input_example_info", None) or {}
    path = os.path.join(model_dir, info.get("artifact_path", "input_example.json"))
    with open(path, encoding="utf-8") as handle:
        payload = json.load(handle)
    return decode_payload(payload, info.get("type"), info.get("pandas_orient"))


def decode_payload(payload, kind=None, orient=None):
    """Decode an example in any encoding MLflow writes or serves; returns (data, params)."""
    import pandas as pd

    params = None
    if isinstance(payload, dict) and "params" in payload and ("inputs" in payload or len(payload) == 2):
        params = payload.get("params")
        payload = {k: v for k, v in payload.items() if k != "params"}
    if isinstance(payload, dict):
        if "dataframe_split" in payload:
            return split_frame(payload["dataframe_split"]), params
        if "dataframe_records" in payload:
            return pd.DataFrame(payload["dataframe_records"]), params
        for key in ("inputs", "instances"):
            if key in payload and len(payload) == 1:
                return arrays(payload[key], kind), params
        if kind in (None, "dataframe") and "data" in payload and set(payload) <= {"columns", "data", "index"}:
            return split_frame(payload), params
        if orient == "records" and isinstance(payload, list):
            return pd.DataFrame(payload), params
    if kind == "dataframe" and isinstance(payload, list):
        return pd.DataFrame(payload), params
    if kind in ("ndarray", None) and isinstance(payload, (list, dict)):
        return arrays(payload, kind), params
    return payload, params


def split_frame(split):
    import pandas as pd

    frame = pd.DataFrame(split.get("data", []), columns=split.get("columns"))
    if "index" in split:
        frame.index = split["index"]
    return frame


def arrays(value, kind):
    import numpy as np

    if kind == "json_object":
        return value
    if isinstance(value, dict):
        return {k: np.array(v) for k, v in value.items()}
    if isinstance(value, list):
        return np.array(value)
    return value


def encode(value):
    """A prediction as typed JSON: enough to compare values, dtypes, shapes and columns."""
    import numpy as np

    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - mlflow requires pandas
        pd = None
    if pd is not None and isinstance(value, pd.DataFrame):
        return {"kind": "dataframe", "columns": [str(c) for c in value.columns],
                "dtypes": [str(t) for t in value.dtypes],
                "data": [plain_list(value.iloc[:, i].tolist()) for i in range(value.shape[1])]}
    if pd is not None and isinstance(value, pd.Series):
        return {"kind": "series", "name": None if value.name is None else str(value.name),
                "dtype": str(value.dtype), "data": plain_list(value.tolist())}
    if isinstance(value, np.ndarray):
        return {"kind": "ndarray", "dtype": str(value.dtype), "shape": list(value.shape),
                "data": plain(value.tolist())}
    if isinstance(value, (list, tuple)):
        return {"kind": "list", "items": [encode(v) for v in value]}
    if isinstance(value, dict):
        return {"kind": "dict", "items": {str(k): encode(v) for k, v in value.items()}}
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        dtype = "none" if value is None else type(value).__name__
        return {"kind": "scalar", "dtype": dtype, "value": value}
    for convert in ("numpy", "to_numpy", "tolist"):  # tensors, arrow arrays, ...
        if hasattr(value, convert):
            converted = getattr(value, convert)()
            if converted is not value:
                return encode(converted)
    raise TypeError("the prediction of type %s.%s cannot be serialized" % (type(value).__module__, type(value).__name__))


def plain_list(values):
    return [plain(v) for v in values]


def plain(value):
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "item") and not hasattr(value, "__len__"):
        return plain(value.item())
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if hasattr(value, "isoformat"):  # pandas Timestamp / Timedelta
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value) if math.isfinite(float(value)) else str(value)
    if isinstance(value, bytes):
        return "base64:" + base64.b64encode(value).decode()
    return encode(value)


def error_of(exc):
    return {"type": type(exc).__name__, "message": str(exc)[:4000],
            "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-20000:]}


def freeze():
    from importlib import metadata

    seen = {}
    for dist in metadata.distributions():
        name = dist.metadata.get("Name")
        if name and name.lower() not in seen:
            seen[name.lower()] = {"name": name, "version": dist.version}
    return sorted(seen.values(), key=lambda d: d["name"].lower())


def watch_lifeline():
    """Under --backend docker the container's stdin is envforge's attach connection (the runner is the
    container's PID 1): EOF means envforge is gone, killed or not, so the runner exits at once and the
    kernel ends everything the model started in the container. No orphan outlives `kill -9` of envforge."""
    import threading

    def watch():
        try:
            while os.read(0, 65536):
                pass
        except OSError:
            pass
        os._exit(137)

    thread = threading.Thread(target=watch, name="envforge-lifeline")
    thread.daemon = True
    thread.start()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
