"""A real Spark model, end to end (issue 32): a pyspark.ml pipeline (VectorAssembler + LogisticRegression, 10 rows,
local[1]) trained and saved by real MLflow (`mlflow.spark.save_model(..., input_example=...)`) in a training env
that has pyspark and MLflow, recorded there, then verified with the defaults: the uv backend rebuilds pyspark
(a source-only package: its built wheel comes from uv's cache after the first run) and the default sandbox runs
the JVM (the host's OpenJDK, read-only; Spark's driver on loopback; Spark's temp files in the sandbox's /tmp).
And the same model on a machine without Java: the specific verdict naming Java and how to get it, before any
build. The suite's own venv has no pyspark: the training env is built here with uv (module-scoped).
Measured on the 2-core machine at load average ~20 (other sessions' suites): the module's 4 tests in 1055 s, about
10 minutes of it the fixtures (training env, a JVM to train, another to record); the uv verify alone ~2-5 min."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

from envforge.backends.tools import uv_bin
from tests.support.cli import envforge, report
from tests.support.docker import BASE_IMAGE, client, start_engine

pytestmark = pytest.mark.slow

PYSPARK = "3.5.5"  # runs on Java 8/11/17: this machine has OpenJDK 17

TRAIN = """
import sys
import mlflow.spark
import pandas as pd
from pyspark.ml import Pipeline
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.feature import VectorAssembler
from pyspark.sql import SparkSession

spark = (SparkSession.builder.master("local[1]").appName("envforge-test").config("spark.ui.enabled", "false")
         .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1").getOrCreate())
rows = [(float(i), float(i % 3), 1.0 if i >= 5 else 0.0) for i in range(10)]
frame = spark.createDataFrame(rows, ["a", "b", "label"])
model = Pipeline(stages=[VectorAssembler(inputCols=["a", "b"], outputCol="features"), LogisticRegression(maxIter=10)]).fit(frame)
# The requirements MLflow would infer, given: inferring them loads the model in a second JVM (a minute on a loaded machine).
import numpy, pyspark
pins = [f"mlflow=={mlflow.__version__}", f"pyspark=={pyspark.__version__}", f"pandas=={pd.__version__}", f"numpy=={numpy.__version__}"]
mlflow.spark.save_model(model, sys.argv[1], input_example=pd.DataFrame({"a": [1.0, 7.0, 4.0], "b": [0.0, 1.0, 2.0]}),
                        pip_requirements=pins)
spark.stop()
"""


@pytest.fixture(scope="module")
def spark_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A training env: this Python, pyspark and the suite's own MLflow, installed by uv (from its cache when warm)."""
    venv = tmp_path_factory.mktemp("spark-train") / "venv"
    uv = uv_bin()
    subprocess.run([uv, "venv", "-q", str(venv), "--python", sys.executable], check=True, timeout=300)
    subprocess.run([uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), f"pyspark=={PYSPARK}",
                    f"mlflow=={mlflow.__version__}"], check=True, timeout=1200)
    return str(venv / "bin" / "python")


@pytest.fixture(scope="module")
def spark_model(spark_python: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Spark model, saved and recorded (its predictions stored with it) in the training env."""
    base = tmp_path_factory.mktemp("spark-model")
    (base / "train.py").write_text(TRAIN)
    model = base / "model"
    done = subprocess.run([spark_python, str(base / "train.py"), str(model)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    recorded = envforge("record", str(model), "--python", spark_python, home=base / "home")
    assert recorded.returncode == 0, recorded.output
    return model


@pytest.fixture(scope="module")
def spark_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One envforge home for the module: the env the first verify builds is reused by the --memory one."""
    return tmp_path_factory.mktemp("spark-home")


@pytest.mark.timeout(1800)  # with the module's fixtures: the training env, two JVM starts to train and record, the build
def test_the_real_spark_model_passes_in_the_default_sandbox(spark_model: Path, tmp_path: Path, spark_home: Path) -> None:
    flavors = (spark_model / "MLmodel").read_text()
    assert "loader_module: mlflow.spark" in flavors and f"pyspark_version: {PYSPARK}" in flavors
    run = envforge("verify", str(spark_model), "--json", str(tmp_path / "r.json"), home=spark_home)
    result = report(tmp_path / "r.json")
    assert run.returncode == 0 and result["status"] == "passed", run.output
    assert result["sandbox"].get("network") is False, result["sandbox"]  # the default sandbox ran the JVM
    assert any(Path(result["env"]["path"]).glob("lib/python*/site-packages/pyspark/jars/spark-core_*.jar"))  # the real pyspark
    example = result["examples"][0]
    assert len(example["prediction"]["items"]) == 3, example  # three rows predicted by Spark, compared with the recorded ones
    assert example.get("compared", True) and "differ" not in json.dumps(example).lower(), example


def test_without_java_the_verdict_names_java_and_the_fix(spark_model: Path, tmp_path: Path, home: Path) -> None:
    """Hidden: JAVA_HOME (unset) and `java` (PATH's directories that hold one are replaced by a copy of symlinks to
    everything else in them). The JRE's files stay on disk: nothing but the lookup envforge does is changed."""
    path = []
    for number, directory in enumerate(os.environ["PATH"].split(os.pathsep)):
        if not os.path.exists(os.path.join(directory, "java")):
            path.append(directory)
            continue
        stand_in = tmp_path / f"path{number}"
        stand_in.mkdir()
        for name in os.listdir(directory):
            if name != "java":
                (stand_in / name).symlink_to(os.path.join(directory, name))
        path.append(str(stand_in))
    run = envforge("verify", str(spark_model), "--json", str(tmp_path / "r.json"), home=home,
                   env={"PATH": os.pathsep.join(path)}, unset=("JAVA_HOME",))
    result = report(tmp_path / "r.json")
    assert run.returncode == 3 and result["status"] == "error", run.output
    assert "spark flavor needs a Java runtime" in run.output and "openjdk-17-jre-headless" in run.output, run.output
    assert "Traceback" not in run.output, run.output
    assert not any((home / "envs").glob("*")), "nothing is built before the Java check"


def test_a_jvm_that_cannot_start_is_an_env_verdict_not_the_model(spark_model: Path, tmp_path: Path, spark_home: Path) -> None:
    """--memory 600m (RLIMIT_AS of the model's processes): the JVM cannot reserve its heap, pyspark raises "Java gateway
    process exited" while the model loads. The verdict names Java and the limit (exit 3), not "the model failed to load"."""
    run = envforge("verify", str(spark_model), "--memory", "600m", "--json", str(tmp_path / "r.json"), home=spark_home)
    result = report(tmp_path / "r.json")
    assert run.returncode == 3 and result["status"] == "error", run.output
    assert "Spark's JVM did not start" in result["reason"] and "not the model" in result["reason"] and "--memory" in result["reason"]


@pytest.mark.docker
@pytest.mark.timeout(1800)
def test_the_docker_backend_gives_the_image_a_jre(spark_model: Path, tmp_path: Path, spark_home: Path) -> None:
    """The suite's base image has no Java: the env image gets Debian's openjdk-17-jre-headless (spec/flavors.py) and the
    no-network container runs Spark with its driver on loopback. Measured on the loaded 2-core machine: 368 s cold (the
    JRE and pyspark layers), 180 s warm (env image reused; the JVM start and Spark job take the rest)."""
    host = start_engine()
    base_java = client(host).containers.run(BASE_IMAGE, ["sh", "-c", "command -v java || echo none"], remove=True,
                                                   network_disabled=True)
    assert base_java.decode().strip() == "none"  # the JRE that runs the model is the one the backend installed
    run = envforge("verify", str(spark_model), "--backend", "docker", "--base-image", BASE_IMAGE, "--json", str(tmp_path / "r.json"),
                   home=spark_home, env={"DOCKER_HOST": host}, timeout=1800)
    result = report(tmp_path / "r.json")
    assert run.returncode == 0 and result["status"] == "passed", run.output
    assert len(result["examples"][0]["prediction"]["items"]) == 3
