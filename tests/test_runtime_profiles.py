"""Databricks runtime profiles (spec/runtime_profiles.py): every table parses and names its source, runtime
names map to tables (or to a reason), and a profile pins exactly what the model's requirements leave open.
MLflow writes `databricks_runtime` only on Databricks: the tests write it into MLmodel by hand."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from envforge.errors import UsageError
from envforge.spec import load_spec
from envforge.spec.runtime_profiles import TABLES, apply_profile, available, find_profile, load_profile

MLMODEL = """flavors:
  python_function:
    env:
      virtualenv: python_env.yaml
    loader_module: mlflow.sklearn
    model_path: model.pkl
    python_version: {python}
  sklearn:
    pickled_model: model.pkl
{runtime}mlflow_version: 2.11.1
utc_time_created: '2024-05-01 10:00:00.000000'
"""


def _model(tmp_path: Path, runtime: str | None, requirements: str, python: str = "3.10.12") -> Path:
    model = tmp_path / "model"
    model.mkdir()
    line = f"databricks_runtime: '{runtime}'\n" if runtime else ""
    (model / "MLmodel").write_text(MLMODEL.format(python=python, runtime=line))
    (model / "python_env.yaml").write_text(f"python: {python}\nbuild_dependencies:\n- pip==23.2.1\n- setuptools==68.0.0\n"
                                           "dependencies:\n- -r requirements.txt\n")
    (model / "requirements.txt").write_text(requirements)
    return model


def test_every_table_parses_and_names_its_source() -> None:
    names = available()
    for needed in ("12.2.x-cpu-ml-scala2.12", "13.3.x-cpu-ml-scala2.12", "14.3.x-cpu-ml-scala2.12", "14.3.x-gpu-ml-scala2.12",
                   "15.1.x-cpu-ml-scala2.12", "15.4.x-cpu-ml-scala2.12", "16.4.x-cpu-ml-scala2.12", "17.3.x-cpu-ml-scala2.13",
                   "client.1", "client.5"):
        assert needed in names
    for name in names:
        profile = load_profile(name)
        raw = json.loads((TABLES / f"{name}.json").read_text())
        assert profile.name == name and profile.python and profile.python.startswith("3.")
        assert {"repository", "commit", "path", "date"} <= set(profile.source)
        assert len(profile.packages) > 50 and len(profile.packages) == len(raw["packages"])
    # Spot checks against the runtimes' published tables.
    assert load_profile("14.3.x-cpu-ml-scala2.12").packages["scikit-learn"] == "1.1.1"
    assert load_profile("14.3.x-cpu-ml-scala2.12").packages["torch"] == "2.0.1"  # 2.0.1+cpu: no local tag in a pin
    assert load_profile("14.3.x-cpu-ml-scala2.12").python == "3.10"
    assert load_profile("client.5").packages["numpy"] == "2.1.3"


@pytest.mark.parametrize(("runtime", "table", "phrase"), [
    ("14.3.x-cpu-ml-scala2.12", "14.3.x-cpu-ml-scala2.12", "Databricks runtime 14.3.x-cpu-ml-scala2.12"),
    ("15.1", "15.1.x-cpu-ml-scala2.12", "names no variant"),
    ("17.3", "17.3.x-cpu-ml-scala2.13", "names no variant"),
    ("12.2.x-photon-scala2.12", "12.2.x-scala2.12", "Photon"),
    ("client.5", "client.5", "client.5"),
])
def test_runtime_names_map_to_tables(runtime: str, table: str, phrase: str) -> None:
    profile, why = find_profile(runtime)
    assert profile is not None and profile.name == table and phrase in why


@pytest.mark.parametrize("runtime", ["10.4.x-cpu-ml-scala2.12", "9.1", "client.99", "nonsense"])
def test_an_unknown_runtime_says_so(runtime: str) -> None:
    profile, why = find_profile(runtime)
    assert profile is None and f"no library table for Databricks runtime {runtime!r}" in why and "14.3" in why


def test_the_profile_pins_what_requirements_leave_open(tmp_path: Path) -> None:
    model = _model(tmp_path, "14.3.x-cpu-ml-scala2.12", "mlflow==2.11.1\nscikit-learn==1.4.0\npandas\n")
    spec = load_spec(model)
    applied_spec, applied = apply_profile(spec, "14.3.x-cpu-ml-scala2.12", None, "logged")
    assert applied is not None and applied.profile == "14.3.x-cpu-ml-scala2.12"
    pins = dict(c.split("==") for c in applied_spec.constraints)
    table = load_profile("14.3.x-cpu-ml-scala2.12").packages
    assert pins["numpy"] == table["numpy"] and pins["pandas"] == table["pandas"]  # open: pinned to the runtime's
    assert "scikit-learn" not in pins  # the model pins its own: requirements win
    assert not {"mlflow", "mlflow-skinny", "pip", "setuptools"} & set(pins)  # the model's MLflow and build tools
    assert applied.gap == (f"pandas=={table['pandas']}",)  # named bare in requirements: the gap the guide warns about
    assert applied_spec.key != spec.key and any("runtime profile 14.3.x-cpu-ml-scala2.12 applied" in n for n in applied_spec.notes)


def test_off_latest_unknown_and_an_explicit_name(tmp_path: Path) -> None:
    model = _model(tmp_path, "14.3.x-cpu-ml-scala2.12", "mlflow==2.11.1\npandas\n")
    spec = load_spec(model)
    off, applied = apply_profile(spec, "14.3.x-cpu-ml-scala2.12", "off", "logged")
    assert off == spec and applied is not None and applied.profile is None
    latest, applied = apply_profile(spec, "14.3.x-cpu-ml-scala2.12", None, "latest")
    assert latest == spec and applied is not None and "--resolve latest" in applied.why
    unknown, applied = apply_profile(spec, "10.4.x-cpu-ml-scala2.12", None, "logged")
    assert unknown.constraints == spec.constraints and applied is not None and applied.profile is None
    assert any("no library table" in n and "logging date" in n for n in unknown.notes)
    named, applied = apply_profile(replace(spec), None, "client.5", "logged")
    assert applied is not None and applied.profile == "client.5" and "numpy==2.1.3" in named.constraints
    with pytest.raises(UsageError, match="no table for that runtime"):
        apply_profile(spec, None, "99.9.x-cpu-ml-scala2.12", "logged")


def test_a_model_without_python_gets_the_runtimes(tmp_path: Path) -> None:
    model = _model(tmp_path, "client.5", "mlflow==3.1.0\n")
    spec = replace(load_spec(model), python=None, python_source="none")
    applied_spec, _ = apply_profile(spec, "client.5", None, "logged")
    assert applied_spec.python == "3.12" and applied_spec.python_source == "runtime client.5"
