"""Runner side of synthesized inputs: typed decoding, and asking a loaded model for its inputs.

Loaded by run_model.py from the file next to it (the runner runs with `python -I`, so this is not
importable by name); like the runner it imports only the standard library and what the model's
environment has, never envforge, and runs on Python 3.6+.

`typed(data, dtypes)` gives a decoded payload the dtypes a synthesized example names (JSON has
no float32, bytes or datetimes). `introspect(model, request)` answers a model without a
signature: it unwraps the flavor's native model and asks it (scikit-learn, XGBoost, LightGBM,
CatBoost, statsmodels, PyTorch, Keras) what it takes, then makes a few rows with a fixed seed
(Python's `random`, so the rows do not depend on the env's numpy). It returns the payload it made,
which the runner reports back so that envforge can record and replay the very same rows, or the
reason why nothing is knowable.
"""

import base64
import random

WRAPPER_ATTRS = ("sklearn_model", "xgb_model", "lgb_model", "cb_model", "statsmodels_model", "pytorch_model",
                 "keras_model", "spark_model", "python_model", "rt", "pr_model", "sktime_model")


class Unknowable(Exception):
    """Nothing the loaded model exposes says what its inputs are."""


def typed(data, dtypes):
    """Cast a decoded payload (DataFrame, array, dict of arrays) to the dtypes a synthesized example names."""
    if dtypes is None:
        return data
    if isinstance(dtypes, dict) and isinstance(data, dict):
        return dict((k, cast_array(v, dtypes.get(k))) for k, v in data.items())
    if isinstance(dtypes, list) and hasattr(data, "columns"):
        import collections

        import pandas as pd

        columns = collections.OrderedDict()
        for i, name in enumerate(data.columns):
            columns[name] = cast_column(data.iloc[:, i], dtypes[i] if i < len(dtypes) else None)
        return pd.DataFrame(columns, index=data.index)
    return cast_array(data, dtypes)


def cast_column(series, dtype):
    import pandas as pd

    if dtype in (None, "object"):
        return series
    if dtype == "bytes":
        return series.map(lambda v: base64.b64decode(v)).astype(object)
    if dtype == "str":
        return series.map(str).astype(object)
    if dtype.startswith("datetime"):
        return pd.to_datetime(series).astype(dtype)
    return series.astype(dtype)


def cast_array(value, dtype):
    import numpy as np

    if dtype is None:
        return value
    return np.asarray(value).astype(dtype)


def raw_model(model):
    """The flavor's own model behind a PyFuncModel: get_raw_model() (newer MLflow), else _model_impl
    (older), then the flavor wrapper's attribute (MLflow 1.x returned some native models directly)."""
    raw = None
    if hasattr(model, "get_raw_model"):
        try:
            raw = model.get_raw_model()
        except Exception:
            raw = None
    if raw is None:
        raw = getattr(model, "_model_impl", model)
    for _ in range(3):
        for attr in WRAPPER_ATTRS:
            inner = getattr(raw, attr, None)
            if inner is not None and not callable(getattr(type(raw), attr, None)):
                raw = inner
                break
        else:
            break
    return raw


def introspect(model, request):
    """{"payload", "dtypes", "detail"} for rows the loaded model accepts by its own account; raises Unknowable."""
    rows = int(request.get("rows") or 5)
    rng = random.Random(int(request.get("seed") or 0))
    raw = raw_model(model)
    kind = "%s.%s" % (type(raw).__module__, type(raw).__name__)
    asks = {"sklearn": ask_sklearn, "xgboost": ask_xgboost, "lightgbm": ask_lightgbm, "catboost": ask_catboost,
            "statsmodels": ask_statsmodels, "torch": ask_torch, "keras": ask_keras, "tensorflow": ask_keras,
            "tf_keras": ask_keras}
    flavors = flavor_inputs()  # issue 34: ONNX, Prophet, sktime (and Keras 3 within ask_keras)
    for library, ask in (("onnxruntime", flavors.ask_onnx), ("prophet", flavors.ask_prophet),
                         ("fbprophet", flavors.ask_prophet), ("sktime", flavors.ask_sktime)):
        asks[library] = lambda raw, rows, rng, kind, ask=ask: ask(raw, rows, rng, kind, Unknowable)
    # the library the class comes from, or one of its bases does (a user's nn.Module or estimator subclass)
    libraries = [getattr(c, "__module__", "").split(".")[0] for c in getattr(type(raw), "__mro__", ())]
    module = next((lib for lib in libraries if lib in asks), libraries[0] if libraries else "")
    if module not in asks and hasattr(raw, "n_features_in_"):  # a model with scikit-learn's API
        asks[module] = ask_sklearn
    if module not in asks:
        inner = wrapped(raw, asks)
        if inner is None:
            raise Unknowable("the model is a %s, whose inputs envforge cannot ask (it has no signature either)" % kind)
        name, library, value = inner
        made = asks[library](value, rows, rng, "%s.%s" % (type(value).__module__, type(value).__name__))
        made["detail"] = "the pyfunc wrapper's attribute %s, a %s: %s" % (name, type(value).__name__, made["detail"])
        return made
    return asks[module](raw, rows, rng, kind)


def wrapped(raw, asks):
    """(attribute, library, value) of the one model a pyfunc wrapper (a PythonModel) holds, from a
    library envforge can ask; None when it holds none, or several of different kinds."""
    found = []
    for name, value in sorted(getattr(raw, "__dict__", {}).items()):
        if value is None or isinstance(value, (str, bytes, int, float, bool, dict, list, tuple)):
            continue
        library = next((getattr(c, "__module__", "").split(".")[0] for c in getattr(type(value), "__mro__", ())
                        if getattr(c, "__module__", "").split(".")[0] in asks), None)
        if library is None and _attr(value, "n_features_in_") is not None:
            library = "sklearn"
        if library is not None:
            found.append((name, library, value))
    if len(found) != 1 and len(set(id(v) for _, _, v in found)) != 1:
        return None
    return found[0]


_FLAVORS = []


def flavor_inputs():
    """flavor_inputs.py, next to this file (loaded by path: the runner runs with `python -I`)."""
    if not _FLAVORS:
        import importlib.util
        import os

        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "flavor_inputs.py")
        spec = importlib.util.spec_from_file_location("envforge_runner_flavor_inputs", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _FLAVORS.append(module)
    return _FLAVORS[0]


def frame(names, rows, rng, detail, string_columns=()):
    """A DataFrame payload of float64 columns (strings in `string_columns`)."""
    data = []
    for _ in range(rows):
        data.append([("value_%d" % rng.randrange(3)) if i in string_columns else round(rng.uniform(-1.0, 1.0), 4)
                     for i in range(len(names))])
    dtypes = ["str" if i in string_columns else "float64" for i in range(len(names))]
    return {"payload": {"dataframe_split": {"columns": [str(n) for n in names], "data": data}},
            "dtypes": dtypes, "detail": detail}


def matrix(width, rows, rng, detail, dtype="float64"):
    data = [[round(rng.uniform(-1.0, 1.0), 4) for _ in range(width)] for _ in range(rows)]
    return {"payload": {"inputs": data}, "dtypes": dtype, "detail": detail}


def features(names, width, rows, rng, where):
    """Named columns when the model knows names, else a plain matrix of `width` columns."""
    if names:
        return frame(list(names), rows, rng, "%d rows x %d column(s) named by %s" % (rows, len(names), where))
    if width:
        return matrix(int(width), rows, rng, "%d rows x %d feature(s) counted by %s" % (rows, int(width), where))
    return None


def ask_sklearn(raw, rows, rng, kind):
    steps = getattr(raw, "steps", None)
    candidates = [(raw, "the %s's" % type(raw).__name__)]
    if steps:  # a Pipeline: its own attributes, else its first step's, else its last step's
        candidates += [(steps[0][1], "the Pipeline's first step"), (steps[-1][1], "the Pipeline's last step")]
    for est, where in candidates:
        names = _list(_attr(est, "feature_names_in_"))
        width, said = _attr(est, "n_features_in_"), "n_features_in_"
        if not names and not width and "n_features_" in getattr(est, "__dict__", {}):  # an older scikit-learn: trees, forests
            width, said = est.__dict__["n_features_"], "n_features_ (an older scikit-learn)"
        made = features(names, width, rows, rng, "%s %s" % (where, "feature_names_in_" if names else said))
        if made:
            return made
    raise Unknowable("the scikit-learn model (%s) has neither feature_names_in_ nor n_features_in_ "
                     "(fitted before scikit-learn 0.24, or a step that does not record them)" % kind)


def ask_xgboost(raw, rows, rng, kind):
    if hasattr(raw, "n_features_in_") and not hasattr(raw, "num_features"):  # the scikit-learn API
        try:
            return ask_sklearn(raw, rows, rng, kind)
        except Unknowable:
            raw = raw.get_booster()
    names = _list(_attr(raw, "feature_names"))
    width = _call(raw, "num_features")
    made = features(names, width, rows, rng, "the XGBoost Booster's %s" % ("feature_names" if names else "num_features()"))
    if made:
        return made
    raise Unknowable("the XGBoost model (%s) reports neither feature_names nor num_features()" % kind)


def ask_lightgbm(raw, rows, rng, kind):
    booster = raw.booster_ if hasattr(raw, "booster_") else raw
    names = _list(_call(booster, "feature_name"))
    if names and all(str(n) == "Column_%d" % i for i, n in enumerate(names)):
        names = None  # LightGBM's default names: the model was trained on a plain matrix
    made = features(names, _call(booster, "num_feature"), rows, rng,
                    "the LightGBM Booster's %s" % ("feature_name()" if names else "num_feature()"))
    if made:
        return made
    raise Unknowable("the LightGBM model (%s) reports neither feature_name() nor num_feature()" % kind)


def ask_catboost(raw, rows, rng, kind):
    names = _list(_attr(raw, "feature_names_"))
    if not names:
        raise Unknowable("the CatBoost model (%s) has no feature_names_" % kind)
    categorical = set(_list(_call(raw, "get_cat_feature_indices")) or [])
    made = frame(names, rows, rng, "%d rows x %d column(s) named by CatBoost's feature_names_" % (rows, len(names)),
                 string_columns=categorical)
    if categorical:
        made["detail"] += " (%d categorical, as strings)" % len(categorical)
    return made


def ask_statsmodels(raw, rows, rng, kind):
    model = getattr(raw, "model", None)
    if model is None:
        raise Unknowable("the statsmodels object (%s) has no .model to ask" % kind)
    try:
        from statsmodels.tsa.base.tsa_model import TimeSeriesModel
    except Exception:
        TimeSeriesModel = ()
    if TimeSeriesModel and isinstance(model, TimeSeriesModel):  # MLflow predicts it from one row of start, end
        endog = getattr(model, "endog", None)
        nobs = int(getattr(raw, "nobs", 0) or (endog.shape[0] if getattr(endog, "ndim", 0) else 0))
        if nobs < 1:
            raise Unknowable("the statsmodels time-series model (%s) does not say how many observations it has" % kind)
        start, end = max(0, nobs - rows), nobs - 1
        return {"payload": {"dataframe_split": {"columns": ["start", "end"], "data": [[start, end]]}},
                "dtypes": ["int64", "int64"],
                "detail": "in-sample positions start=%d, end=%d of a time-series model with %d observations" % (start, end, nobs)}
    if getattr(model, "formula", None):
        raise Unknowable("the statsmodels model (%s) was fitted from a formula, whose input columns envforge cannot "
                         "tell from the model" % kind)
    names = _list(getattr(model, "exog_names", None))
    exog = getattr(model, "exog", None)
    width = exog.shape[1] if getattr(exog, "ndim", 0) == 2 else None
    made = features(names, width, rows, rng, "the statsmodels model's %s" % ("exog_names" if names else "exog width"))
    if made:
        return made
    raise Unknowable("the statsmodels model (%s) has no exog_names and no exog" % kind)


def ask_torch(raw, rows, rng, kind):
    modules = getattr(raw, "modules", None)
    if modules is None:
        raise Unknowable("the PyTorch model (%s) is not an nn.Module" % kind)
    for layer in modules():
        if next(iter(layer.children()), None) is not None:
            continue  # a container: look at its layers
        if not list(layer.parameters(recurse=False)):
            continue  # no weights (activation, dropout, ...): it does not fix the input's width
        if type(layer).__name__ in ("Linear", "Bilinear", "LazyLinear") and getattr(layer, "in_features", 0):
            made = matrix(int(layer.in_features), rows, rng,
                          "%d rows x %d float32 feature(s): the in_features of the first layer with weights, a %s"
                          % (rows, int(layer.in_features), type(layer).__name__), dtype="float32")
            return made
        raise Unknowable("the first layer with weights of the PyTorch model (%s) is a %s, whose input shape "
                         "(beyond its channels or features) the model does not record" % (kind, type(layer).__name__))
    raise Unknowable("the PyTorch model (%s) has no layer with weights to tell its input shape" % kind)


def ask_keras(raw, rows, rng, kind):
    try:
        shape = getattr(raw, "input_shape", None)
    except Exception:  # Keras 3 raises where a model has no single input shape
        shape = None
    if not isinstance(shape, tuple) and getattr(raw, "inputs", None):  # Keras 3: model.inputs
        return flavor_inputs().ask_keras3(raw, rows, rng, kind, Unknowable)
    if not isinstance(shape, tuple) or not shape or not all(d is None or isinstance(d, int) for d in shape):
        raise Unknowable("the TensorFlow model (%s) has no single input_shape (several inputs, or not a Keras model)" % kind)
    dims = list(shape[1:])
    if any(d is None for d in dims):
        raise Unknowable("the Keras model (%s) has input_shape %r: a dimension besides the rows is unknown" % (kind, shape))
    data = _nested([rows] + dims, rng)
    return {"payload": {"inputs": data}, "dtypes": "float32",
            "detail": "%d rows of float32 %r from the Keras model's input_shape" % (rows, tuple(dims))}


def _nested(dims, rng):
    if not dims:
        return round(rng.uniform(-1.0, 1.0), 4)
    return [_nested(dims[1:], rng) for _ in range(dims[0])]


def _attr(obj, name):
    try:
        return getattr(obj, name, None)
    except Exception:  # scikit-learn raises AttributeError subclasses, others anything
        return None


def _call(obj, name):
    method = _attr(obj, name)
    if not callable(method):
        return method
    try:
        return method()
    except Exception:
        return None


def _list(value):
    if value is None:
        return None
    try:
        items = list(value.tolist() if hasattr(value, "tolist") else value)
    except TypeError:
        return None
    return items or None
