"""A spark-flavor model needs a Java runtime: without one (JAVA_HOME pointing nowhere) verify stops before
building, with the remedy; with a Java its pyspark does not run on, it says which versions would. The MLmodel
is hand-written (a real pyspark model takes minutes to log and load: the lighter check the budget allows)."""

from __future__ import annotations

import json
from pathlib import Path

from envforge.execution.java import find_java
from tests.support.cli import envforge

MLMODEL = """flavors:
  python_function:
    data: sparkml
    env:
      virtualenv: python_env.yaml
    loader_module: mlflow.spark
    python_version: 3.11.7
  spark:
    model_data: sparkml
    pyspark_version: {pyspark}
mlflow_version: 2.13.1
utc_time_created: '2024-06-01 10:00:00.000000'
"""


def _spark_model(tmp_path: Path, pyspark: str) -> Path:
    model = tmp_path / f"spark-{pyspark}"
    (model / "sparkml").mkdir(parents=True)
    (model / "MLmodel").write_text(MLMODEL.format(pyspark=pyspark))
    (model / "python_env.yaml").write_text("python: 3.11.7\nbuild_dependencies:\n- pip\ndependencies:\n- -r requirements.txt\n")
    (model / "requirements.txt").write_text(f"mlflow==2.13.1\npyspark=={pyspark}\n")
    return model


def _verify(model: Path, tmp_path: Path, env: dict[str, str] | None = None) -> tuple[int, dict, str]:
    out = tmp_path / f"{model.name}.json"
    run = envforge("verify", str(model), "--json", str(out), home=tmp_path / "home", env=env)
    assert "Traceback" not in run.output
    data = json.loads(out.read_text())
    return run.returncode, (data.get("results") or [data])[0], run.output


def test_no_java_stops_before_building(tmp_path: Path) -> None:
    code, result, output = _verify(_spark_model(tmp_path, "3.5.1"), tmp_path, env={"JAVA_HOME": str(tmp_path / "no-jre")})
    assert code == 3 and result["status"] == "error", output
    assert "spark flavor needs a Java runtime" in output and "no Java runtime on this machine" in output
    assert "openjdk-17-jre-headless" in output
    assert [s["name"] for s in result["steps"]] == ["resolve"]  # nothing built


def test_a_java_the_pyspark_cannot_use_is_named(tmp_path: Path) -> None:
    java = find_java()
    assert java is not None and java.major == 17, "this machine has OpenJDK 17"
    code, result, output = _verify(_spark_model(tmp_path, "2.4.8"), tmp_path, env={"JAVA_HOME": java.home})
    assert code == 3 and "pyspark 2.4.8 runs on Java 8" in output and "this machine's Java is 17" in output
    assert [s["name"] for s in result["steps"]] == ["resolve"]


def test_the_docker_image_of_a_spark_model_gets_a_java_runtime(tmp_path: Path) -> None:
    """The docker backend installs the model's system packages in its image: a spark model's include a headless JRE
    (the spec is what the image is built from; building one is the docker suite's job)."""
    from envforge.spec import load_spec

    model = _spark_model(tmp_path, "3.5.1")
    assert "openjdk-17-jre-headless" in load_spec(model, "docker").system_packages
    assert load_spec(model, "uv").system_packages == ()  # the host's JRE is checked instead (execution/java.py)
