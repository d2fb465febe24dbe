"""Runner side: inputs that a flavor's own model declares (issue 34), for models logged with no
example and no signature.

Loaded by introspect.py from the file next to it (the runner runs with `python -I`); like the runner
it imports only the standard library and what the model's environment has, never envforge, and
runs on Python 3.6+. Each `ask_*` takes the loaded flavor model and returns {"payload", "dtypes",
"detail"}, or raises the Unknowable it is given with the reason. The rules that need no model
(`tensor_example`, `onnx_dtype`, `future_dates`) are plain functions of what the model declares.

- ONNX: the graph's inputs (names, element types, shapes) from onnxruntime's session.
- Keras 3: `model.inputs` (shapes and dtypes), where Keras 2's single `input_shape` is absent.
- Prophet: a frame of future `ds` dates at the training history's frequency (plus its extra
  regressors, and `cap`/`floor` for logistic growth).
- sktime: the forecaster's horizon was fixed when it was fitted; MLflow's sktime pyfunc takes the
  exogenous frame, empty for a forecaster fitted without one.
"""

# ONNX element types (onnxruntime's NodeArg.type) -> numpy dtype names
ONNX_TYPES = {"float": "float32", "double": "float64", "float16": "float16", "int8": "int8", "int16": "int16",
              "int32": "int32", "int64": "int64", "uint8": "uint8", "uint16": "uint16", "uint32": "uint32",
              "uint64": "uint64", "bool": "bool", "string": "str"}
MAX_VALUES = 200000  # per input, as envforge/modeldir/synthesize.py


def onnx_dtype(kind):
    """'tensor(float)' -> 'float32'; None for what is not a tensor of a plain type (sequences, maps)."""
    kind = str(kind or "")
    if not (kind.startswith("tensor(") and kind.endswith(")")):
        return None
    return ONNX_TYPES.get(kind[len("tensor("):-1])


def concrete(shape, rows):
    """A declared shape with its unknown sizes made concrete: the leading unknown (None, -1, or a
    symbolic name such as 'batch') is the rows, any other unknown is 1. None if it is no shape."""
    if shape is None:
        return None
    dims = []
    for i, d in enumerate(shape):
        known = isinstance(d, int) and not isinstance(d, bool) and d >= 0
        dims.append(int(d) if known else (max(int(rows), 1) if i == 0 else 1))
    return dims


def tensor_example(specs, rows, rng, where, unknowable):
    """specs: [(name, dtype, shape)] as the model declares them -> a payload of named tensors."""
    if not specs:
        raise unknowable("%s declares no inputs" % where)
    made, dtypes, shown = {}, {}, []
    for name, dtype, shape in specs:
        dims = concrete(shape, rows)
        if dtype is None or dims is None:
            raise unknowable("%s declares the input %r as %s %r, which envforge cannot make values of"
                             % (where, name, dtype, shape))
        size = 1
        for d in dims:
            size *= d
        if size > MAX_VALUES and dims and (shape[0] is None or not isinstance(shape[0], int) or shape[0] < 0):
            dims[0] = 1  # fewer rows of a large input
            size //= max(int(rows), 1)
        if size > MAX_VALUES:
            raise unknowable("%s declares the input %r of shape %r: too large to synthesize" % (where, name, tuple(dims)))
        made[str(name)] = nested(dims, dtype, rng)
        dtypes[str(name)] = dtype
        shown.append("%s %s%r" % (name, dtype, tuple(dims)))
    detail = "tensor(s) %s from %s (a leading unknown size is %d rows, any other 1)" % (", ".join(shown), where, max(int(rows), 1))
    return {"payload": {"inputs": made}, "dtypes": dtypes, "detail": detail}


def nested(dims, dtype, rng):
    if not dims:
        return value(dtype, rng)
    return [nested(dims[1:], dtype, rng) for _ in range(dims[0])]


def value(dtype, rng):
    if dtype == "bool":
        return rng.random() < 0.5
    if dtype.startswith(("int", "uint")):
        return rng.randrange(10)
    if dtype == "str":
        return "value_%d" % rng.randrange(3)
    return round(rng.uniform(-1.0, 1.0), 4)


def ask_onnx(raw, rows, rng, kind, unknowable):
    """An onnxruntime InferenceSession (MLflow's onnx flavor's raw model)."""
    session = getattr(raw, "rt", raw)
    get_inputs = getattr(session, "get_inputs", None)
    if not callable(get_inputs):
        raise unknowable("the ONNX model (%s) has no onnxruntime session to ask for its inputs" % kind)
    specs = [(arg.name, onnx_dtype(arg.type), list(arg.shape) if arg.shape is not None else None) for arg in get_inputs()]
    return tensor_example(specs, rows, rng, "the ONNX graph's inputs", unknowable)


def ask_keras3(raw, rows, rng, kind, unknowable):
    """A Keras 3 model: `model.inputs`, each a KerasTensor with a shape and a dtype."""
    inputs = getattr(raw, "inputs", None)
    if not inputs:
        raise unknowable("the Keras model (%s) has no `inputs` (a subclassed model that was never built on a shape)" % kind)
    specs = []
    for i, tensor in enumerate(inputs):
        name = getattr(tensor, "name", None) or "input_%d" % i
        dtype = str(getattr(tensor, "dtype", None) or "float32")
        dtype = getattr(getattr(tensor, "dtype", None), "name", dtype)  # a tf.DType under Keras 2
        specs.append((name, dtype, list(getattr(tensor, "shape", None) or [])))
    made = tensor_example(specs, rows, rng, "the Keras model's inputs", unknowable)
    if len(specs) == 1:  # one input: the plain array, as MLflow's Keras pyfunc takes it
        name = str(specs[0][0])
        made["payload"] = {"inputs": made["payload"]["inputs"][name]}
        made["dtypes"] = made["dtypes"][name]
    return made


def future_dates(history, rows):
    """`rows` dates after the last of `history` (pandas Timestamps) at its frequency, as ISO text:
    pandas' inferred frequency where it has one, else the median step between the last dates."""
    import pandas as pd

    dates = pd.DatetimeIndex(pd.to_datetime(list(history))).sort_values()
    if len(dates) < 2:
        raise ValueError("a history of %d date(s) has no frequency" % len(dates))
    tail = dates[-50:]
    freq = None
    if len(tail) >= 3:
        try:
            freq = pd.infer_freq(tail)
        except (TypeError, ValueError):
            freq = None
    if freq:
        made = pd.date_range(start=dates[-1], periods=int(rows) + 1, freq=freq)[1:]
        return [d.isoformat() for d in made], freq
    step = pd.Series(tail[1:] - tail[:-1]).median()
    if not step or step <= pd.Timedelta(0):
        raise ValueError("the history's last dates do not advance")
    return [(dates[-1] + step * (k + 1)).isoformat() for k in range(int(rows))], str(step)


def ask_prophet(raw, rows, rng, kind, unknowable):
    history = getattr(raw, "history", None)
    if history is None or "ds" not in getattr(history, "columns", ()):
        raise unknowable("the Prophet model (%s) has no training history to take dates from (it was never fitted)" % kind)
    try:
        dates, freq = future_dates(history["ds"], rows)
    except ValueError as exc:
        raise unknowable("the Prophet model (%s): %s" % (kind, exc)) from None
    columns, dtypes = ["ds"], ["datetime64[ns]"]
    extra = sorted(getattr(raw, "extra_regressors", None) or {})
    if getattr(raw, "growth", None) == "logistic":
        extra = [c for c in ("cap", "floor") if c in history.columns] + extra
    data = []
    for d in dates:
        row = [d]
        for column in extra:
            if column in ("cap", "floor"):
                row.append(float(history[column].iloc[-1]))
            else:
                row.append(round(rng.uniform(-1.0, 1.0), 4))
        data.append(row)
    columns += extra
    dtypes += ["float64"] * len(extra)
    detail = "%d future ds dates at the training history's frequency (%s)" % (len(dates), freq)
    if extra:
        detail += ", with %s" % ", ".join(extra)
    return {"payload": {"dataframe_split": {"columns": columns, "data": data}}, "dtypes": dtypes, "detail": detail}


def ask_sktime(raw, rows, rng, kind, unknowable):
    """MLflow's sktime pyfunc calls predict(X=<the input frame>, or None when it is empty) with the
    forecasting horizon the forecaster was fitted with."""
    if not hasattr(type(raw), "fh") or not hasattr(type(raw), "cutoff"):  # properties that raise before fit
        raise unknowable("the sktime object (%s) is not a forecaster" % kind)
    if getattr(raw, "_fh", None) is None:
        raise unknowable("the sktime forecaster (%s) was fitted without a forecasting horizon, and MLflow's sktime "
                         "pyfunc passes none" % kind)
    exog = getattr(raw, "_X", None)
    if exog is not None:
        raise unknowable("the sktime forecaster (%s) was fitted with exogenous data (%s): their future values cannot "
                         "be made up" % (kind, ", ".join(str(c) for c in getattr(exog, "columns", []))))
    horizon = "[%s]" % ", ".join(str(step) for step in list(raw._fh))
    return {"payload": {"dataframe_split": {"columns": [], "data": []}}, "dtypes": [],
            "detail": "no exogenous data (an empty frame): the forecaster predicts its fitted horizon %s" % horizon}
