"""envforge diff's table: statuses per package, differing packages first, and the verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from envforge.backends.base import Env
from envforge.commands.diff import diff_env, requested_versions
from envforge.modeldir.expectations import Expectations
from envforge.pipeline import LoadedModel
from envforge.spec import EnvSpec


def _loaded(requirements: tuple[str, ...], python: str = "3.11.7") -> Any:
    spec = EnvSpec(backend="uv", python=python, python_source="python_env.yaml", build_dependencies=(),
                   requirements=requirements, constraints=(), index_options=(), code_wheels=(), file_hashes=())
    # diff_env reads only the requested spec: the other parts of a loaded model do not matter here.
    return LoadedModel(model=None, mlmodel=None, spec=spec, requested=spec, lock=None, backend=None)  # type: ignore[arg-type]


def _env(installed: tuple[str, ...], python: str = "3.11.7") -> Env:
    return Env(path=Path("/envs/x"), key="k" * 64, backend="uv", python="/envs/x/bin/python", python_version=python,
               interpreter_reason="", interpreter_warning=None, installed=installed, reused=True, build_seconds=0.0)


def _recording(freeze: dict[str, str], python: str = "3.11.7") -> Expectations:
    return Expectations(source="e.json", examples=(), python=python,
                        freeze=tuple({"name": n, "version": v} for n, v in freeze.items()), recorded_at=None)


def test_drift_from_the_training_env_comes_first_with_both_versions() -> None:
    loaded = _loaded(("mlflow==3.17.2", "scikit-learn<1.6", "pandas>=3"))
    env = _env(("mlflow==3.17.2", "scikit-learn==1.5.2", "pandas==2.2.0", "joblib==1.6.0", "numpy==2.4.6"))
    training = _recording({"mlflow": "3.17.2", "scikit_learn": "1.9.1", "pandas": "2.2.0", "joblib": "1.6.0",
                           "pytest": "9.2.0"})
    result = diff_env(loaded, env, training)
    rows = {r.name: r for r in result.rows}
    assert (rows["scikit-learn"].recorded, rows["scikit-learn"].requested, rows["scikit-learn"].installed) == ("1.9.1", "<1.6", "1.5.2")
    assert rows["scikit-learn"].status == "changed" and rows["scikit-learn"].differs
    assert rows["pandas"].status == "unsatisfied"        # 2.2.0 does not meet >=3
    assert rows["numpy"].status == "added"               # the rebuilt env has it, the training env did not
    assert rows["pytest"].status == "training-only" and not rows["pytest"].differs
    assert rows["mlflow"].status == "same" and rows["joblib"].status == "same"
    order = [r.name for r in result.rows]
    assert order[0] == "python"
    assert max(order.index(n) for n in ("scikit-learn", "pandas", "numpy")) < min(order.index(n) for n in ("mlflow", "joblib"))
    assert "scikit-learn 1.9.1 -> 1.5.2" in result.verdict
    assert "requirement not met: pandas >=3 (2.2.0)" in result.verdict
    assert "1 package only in the training environment" in result.verdict
    assert result.to_dict()["counts"] == {"changed": 1, "unsatisfied": 1, "added": 1, "same": 3, "training-only": 1}


def test_without_a_recording_two_columns_and_missing_packages() -> None:
    result = diff_env(_loaded(("mlflow", "scikit-learn<1.6")), _env(("mlflow==3.17.2", "numpy==2.4.6")), None)
    rows = {r.name: r for r in result.rows}
    assert not result.recorded
    assert all(r.recorded is None for r in result.rows)
    assert rows["scikit-learn"].status == "missing" and rows["scikit-learn"].installed is None
    assert rows["mlflow"].status == "ok" and rows["numpy"].status == "ok"
    assert result.rows[1].name == "scikit-learn"
    assert result.verdict.startswith("no recording")
    assert "scikit-learn <1.6 (not installed)" in result.verdict


def test_python_version_is_a_row() -> None:
    result = diff_env(_loaded(("mlflow",), python="3.11.7"), _env(("mlflow==3.17.2",), python="3.11.9"),
                      _recording({"mlflow": "3.17.2"}, python="3.11.7"))
    python = result.rows[0]
    assert (python.name, python.recorded, python.installed, python.status) == ("python", "3.11.7", "3.11.9", "changed")


def test_requested_versions_reads_pins_ranges_urls_and_local_wheels() -> None:
    assert requested_versions(("Scikit_Learn<1.6", "mlflow", "numpy==2.4.6 --hash=sha256:ab",
                               "pkg @ https://files.example/pkg-1.0-py3-none-any.whl",
                               "./wheels/My_Helper-0.1-py3-none-any.whl")) == {
        "scikit-learn": "<1.6", "mlflow": "any", "numpy": "==2.4.6",
        "pkg": "@ https://files.example/pkg-1.0-py3-none-any.whl", "my-helper": "./wheels/My_Helper-0.1-py3-none-any.whl",
    }
