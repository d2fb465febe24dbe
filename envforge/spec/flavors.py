"""What a model's flavors need beyond Python, and what stops envforge before it builds anything.

envforge loads models with `mlflow.pyfunc`: a model without a python_function flavor (MLeap, R's crate,
a third-party flavor with no loader) cannot be run at all (exit 2, flavors named). Some flavors need
more than the Python packages of their requirements — a Java runtime for Spark and H2O, R for
`r_function`, an API key and a network for the hosted-LLM flavors — and some models name external
resources (Databricks serving endpoints, vector indexes) that a sandboxed rebuild cannot reach. Those
get a specific UNVERIFIED reason before the build, instead of a crash deep inside the loader.

The corpus-platforms models and what they need: the two Databricks sklearn models (`sklearn` +
`python_function`) need nothing beyond their Python packages; the pyfunc with a `code/` folder needs its
`code/` and its declared `artifacts/` files; the MLeap-only model needs a JVM with the MLeap runtime,
which envforge does not run (exit 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from envforge.errors import ModelDirError

JAVA, R, API_KEY = "java", "R", "api key"


@dataclass(frozen=True)
class Need:
    flavor: str
    kind: str   # JAVA | R | API_KEY
    what: str   # one phrase for reports


# flavor -> what it needs that pip does not install. Flavors not named need only their Python packages.
NEEDS: dict[str, Need] = {
    "spark": Need("spark", JAVA, "a Java runtime for pyspark's JVM (Java 8/11/17, as the pyspark version supports)"),
    "h2o": Need("h2o", JAVA, "a Java runtime for the H2O server the flavor starts"),
    "johnsnowlabs": Need("johnsnowlabs", JAVA, "a Java runtime for Spark NLP's JVM"),
    "mleap": Need("mleap", JAVA, "a JVM with the MLeap runtime (MLeap models are scored from Java, not Python)"),
    "crate": Need("crate", R, "an R installation with the carrier package"),
    "r_function": Need("r_function", R, "an R installation"),
    "openai": Need("openai", API_KEY, "an OpenAI API key (OPENAI_API_KEY) and network access to the API"),
    "langchain": Need("langchain", API_KEY, "the API keys and network access of the LLMs and tools its chain calls"),
    "llama_index": Need("llama_index", API_KEY, "the API keys and network access of the LLMs its index calls"),
}


# Spark binds its driver to the address of the machine's host name, which resolves nowhere in envforge's sandbox ("sandbox")
# nor in a --network none container (its generated name): the JVM died with UnknownHostException ("Java gateway process
# exited before sending its port number"). A local Spark needs only loopback, which both have.
SPARK_LOOPBACK = {"SPARK_LOCAL_IP": "127.0.0.1", "SPARK_LOCAL_HOSTNAME": "localhost"}

# What an image needs for a flavor (the docker backend installs these with the model's declared packages).
IMAGE_PACKAGES = {JAVA: ("openjdk-17-jre-headless",), R: ("r-base-core",)}


def image_packages(flavors: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The apt packages an image needs for these flavors (a headless Java 17 for spark), mleap excepted: no loader."""
    out: dict[str, None] = {}
    for need in needs(flavors):
        if need.flavor != "mleap":
            out.update(dict.fromkeys(IMAGE_PACKAGES.get(need.kind, ())))
    return tuple(out)


def needs(flavors: tuple[str, ...] | list[str]) -> list[Need]:
    return [NEEDS[f] for f in flavors if f in NEEDS]


def no_pyfunc_error(path: Path, flavors: list[str]) -> ModelDirError:
    listed = ", ".join(flavors) or "none"
    extra = [n.what for n in needs(flavors)]
    return ModelDirError(
        f"envforge runs python_function models; this model's flavors are {listed} (MLmodel at {path} has no "
        f"python_function flavor, so mlflow.pyfunc cannot load it)" + (f"; scoring it needs {'; '.join(extra)}" if extra else "") + ".",
        "Verify it with the tool of its own flavor, or re-log the model with a flavor that adds python_function "
        "(e.g. mlflow.sklearn.log_model, or mlflow.pyfunc.log_model with a PythonModel wrapper).",
    )


def missing_artifacts(model_dir: Path, declared: tuple[str, ...]) -> list[str]:
    """python_function's declared artifacts that are not in the model directory (weights never uploaded)."""
    root = model_dir.resolve()
    missing = []
    for rel in declared:
        target = (root / rel).resolve()
        if not str(target).startswith(str(root)) or not target.exists():
            missing.append(rel)
    return missing


def unverifiable_reason(flavors: tuple[str, ...], model_code_path: str | None, resources: tuple[str, ...]) -> str | None:
    """Why envforge cannot verify this model in a sandboxed rebuild, before building; None when it can try."""
    code = f"a models-from-code model ({model_code_path}) whose " if model_code_path else "the "
    if resources:
        return (f"{code}MLmodel names external resources ({', '.join(resources[:5])}{' …' if len(resources) > 5 else ''}) "
                "that a sandboxed rebuild cannot reach: it can only be verified where they are served")
    keyed = [n for n in needs(flavors) if n.kind == API_KEY]
    if keyed:
        return (f"{code}{keyed[0].flavor} flavor needs {keyed[0].what}; envforge's sandbox has neither, "
                "so its predictions cannot be verified here")
    return None


def check_before_build(model_dir: Path, flavors: tuple[str, ...], artifacts: tuple[str, ...]) -> None:
    """Errors that no build can fix, raised before one starts."""
    missing = missing_artifacts(model_dir, artifacts)
    if missing:
        raise ModelDirError(
            f"The model's python_function flavor declares artifacts that are not in {model_dir}: {', '.join(missing)} "
            "(never uploaded, or left out of the copy).",
            "Download the model with its artifacts (e.g. `mlflow artifacts download`), or re-log it with the files.")
