"""execution/java.py: the JRE a Spark model needs, found on this machine (OpenJDK 17 here), and a clear
error with the remedy when there is none, before anything is built."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from envforge.errors import EnvBuildError
from envforge.execution.java import env_has_pyspark, find_java, parse_major, require_java, supported_majors


def test_parse_major() -> None:
    assert parse_major('openjdk version "17.0.15" 2025-04-15') == 17
    assert parse_major('java version "1.8.0_392"') == 8
    assert parse_major("no version here") is None


def test_finds_the_machines_java() -> None:
    assert shutil.which("java"), "this machine has OpenJDK 17 (the spark flavor's tests need a JRE)"
    found = find_java()
    assert found is not None and found.major and found.major >= 8 and Path(found.home, "bin", "java").exists()
    assert found.variables("/env/bin/python")["PYSPARK_PYTHON"] == "/env/bin/python"
    # the sandbox's hostname resolves nowhere: Spark's driver must bind loopback (integration/test_spark_model.py)
    assert found.variables("/env/bin/python")["SPARK_LOCAL_IP"] == "127.0.0.1"
    assert all(not p.startswith("/usr/") for p in found.read_only)  # /usr is in the sandbox already


def test_no_java_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jre"))
    with pytest.raises(EnvBuildError) as caught:
        require_java("the model's spark flavor needs a Java runtime", "3.5.0")
    assert "no Java runtime on this machine" in str(caught.value) and "openjdk-17-jre-headless" in caught.value.remedy


def test_a_java_the_pyspark_does_not_run_on(monkeypatch: pytest.MonkeyPatch) -> None:
    found = find_java()
    assert found is not None
    monkeypatch.setenv("JAVA_HOME", found.home)
    assert supported_majors("2.4.8") == (8,) and supported_majors("3.5.1") == (8, 11, 17) and supported_majors(None) is None
    if found.major != 8:
        with pytest.raises(EnvBuildError, match="pyspark 2.4.8 runs on Java 8"):
            require_java("the model's spark flavor needs a Java runtime", "2.4.8")
    assert require_java("spark", "3.5.1" if found.major in (8, 11, 17) else "4.0.0").home == found.home


def test_env_has_pyspark(tmp_path: Path) -> None:
    assert not env_has_pyspark(tmp_path)
    pkg = tmp_path / "lib" / "python3.11" / "site-packages" / "pyspark"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    assert env_has_pyspark(tmp_path)


def test_a_jvm_that_did_not_start_is_the_verdict_not_the_model() -> None:
    """What a sandboxed Spark model's loader raised before Spark's driver was bound to loopback (integration/
    test_spark_model.py): an ERROR about Java, exit 3, instead of "the model failed to load"."""
    from envforge.execution import platform_checks
    from envforge.result import ERROR, FAILED, VerifyResult

    result = VerifyResult(uri="m", backend="uv").finish(FAILED, "the model failed to load: ...")
    result.model_error = {"stage": "load", "type": "PySparkRuntimeError",
                          "message": "[JAVA_GATEWAY_EXITED] Java gateway process exited before sending its port number."}
    explained = platform_checks.explain_load_failure(result, platform_checks.NativeCheck())
    assert explained.status == ERROR and explained.exit_code == 3
    assert "Spark's JVM did not start" in explained.reason and "not the model" in explained.reason
    other = VerifyResult(uri="m", backend="uv").finish(FAILED, "the model failed to load: ...")
    other.model_error = {"stage": "load", "type": "ValueError", "message": "bad pickle"}
    assert platform_checks.explain_load_failure(other, platform_checks.NativeCheck()).status == FAILED
