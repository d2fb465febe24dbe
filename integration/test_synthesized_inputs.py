"""Models logged without an input example: verify and record synthesize one, and say where it came from.

Real models saved by real MLflow (tests/support/synth_models.py), real uv builds, the real CLI.
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from envforge.modeldir import synthesize
from tests.support.cli import envforge, report
from tests.support.synth_models import save_iris_bare, save_iris_with_signature, save_opaque_model, save_picky_model, save_tensor_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ENVFORGE_HOME for the module: the sklearn models share an env, built once."""
    return tmp_path_factory.mktemp("synth-home")


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("synth-models")
    return {"column": save_iris_with_signature(root / "column"), "bare": save_iris_bare(root / "bare"),
            "tensor": save_tensor_model(root / "tensor"), "opaque": save_opaque_model(root / "opaque"),
            "picky": save_picky_model(root / "picky")}


def _copy(templates: dict[str, Path], name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(templates[name], tmp_path / name))


def _verify(model: Path, home: Path, tmp_path: Path, *extra: str):
    run = envforge("verify", str(model), "--json", str(tmp_path / "r.json"), "--junit", str(tmp_path / "r.xml"), *extra, home=home)
    return run, report(tmp_path / "r.json")


def test_the_models_have_no_example(templates: dict[str, Path]) -> None:
    for name, path in templates.items():
        mlmodel = yaml.safe_load((path / "MLmodel").read_text())
        assert "saved_input_example_info" not in mlmodel and not (path / "input_example.json").exists(), name
        assert bool(mlmodel.get("signature")) == (name in ("column", "tensor", "picky")), name


def test_a_column_signature_is_synthesized_and_predicts(templates: dict[str, Path], shared_home: Path, tmp_path: Path) -> None:
    run, result = _verify(_copy(templates, "column", tmp_path), shared_home, tmp_path)
    assert run.returncode == 0, run.output
    assert result["status"] == "unverified"
    assert "predictions ran on an input synthesized from its signature" in result["reason"]
    assert "no expectations were recorded" in result["reason"]
    [example] = result["examples"]
    assert example["name"] == "synthesized" and example["ok"] is True and example["source"] == "signature"
    assert "5 rows x 4 named column(s) from the signature" in example["detail"]
    assert "inputs: synthesized (signature: 5 rows x 4 named column(s)" in run.stdout
    props = {p.get("name"): p.get("value") for case in ET.parse(tmp_path / "r.xml").getroot().iter("testcase")
             for p in case.iter("property")}  # the suite's own properties (envforge.version, backends) aside
    assert {k: v for k, v in props.items() if k.startswith("example.")} == {"example.synthesized.source": "signature"}
    assert props["model_warnings.count"] == str(len(result["model_warnings"]))  # every verdict's lines (report/verdict_lines.py)


def test_a_tensor_signature_is_synthesized_with_its_dtype_and_shape(templates: dict[str, Path], shared_home: Path,
                                                                     tmp_path: Path) -> None:
    run, result = _verify(_copy(templates, "tensor", tmp_path), shared_home, tmp_path)
    assert run.returncode == 0, run.output
    [example] = result["examples"]
    assert example["ok"] is True, result  # the model asserts float32 and 3 columns
    assert example["source"] == "signature" and "float32(5, 3)" in example["detail"]


def test_an_sklearn_model_without_signature_is_asked_for_its_columns(templates: dict[str, Path], shared_home: Path,
                                                                    tmp_path: Path) -> None:
    run, result = _verify(_copy(templates, "bare", tmp_path), shared_home, tmp_path)
    assert run.returncode == 0, run.output
    [example] = result["examples"]
    assert example["ok"] is True and example["source"] == "introspected", result
    assert "5 rows x 4 column(s) named by" in example["detail"] and "feature_names_in_" in example["detail"]
    assert "synthesized from what the loaded model reports" in result["reason"]


def test_a_model_nothing_is_known_about_stays_unverified_and_says_why(templates: dict[str, Path], shared_home: Path,
                                                                      tmp_path: Path) -> None:
    model = _copy(templates, "opaque", tmp_path)
    run, result = _verify(model, shared_home, tmp_path)
    assert run.returncode == 0, run.output
    assert result["status"] == "unverified"
    assert "no input example and none could be synthesized" in result["reason"]
    assert "Opaque, whose inputs envforge cannot ask (it has no signature either)" in result["reason"]
    assert "(pass --input FILE)" in result["reason"]
    assert result["examples"][0]["source"] == "introspected" and result["examples"][0]["ok"] is False
    strict = envforge("verify", str(model), "--require-expected", home=shared_home)
    assert strict.returncode == 1, strict.output
    recorded = envforge("record", str(model), home=shared_home)
    assert recorded.returncode == 2 and "none could be synthesized" in recorded.output, recorded.output


def test_no_synthesize_runs_nothing(templates: dict[str, Path], shared_home: Path, tmp_path: Path) -> None:
    model = _copy(templates, "column", tmp_path)
    run, result = _verify(model, shared_home, tmp_path, "--no-synthesize")
    assert run.returncode == 0, run.output
    assert result["reason"] == "the model loaded, but it has no input example: nothing could be run (pass --input FILE)"
    assert result["examples"] == []
    recorded = envforge("record", str(model), "--no-synthesize", home=shared_home)
    assert recorded.returncode == 2 and "has no input example, so there is nothing to record" in recorded.output


@pytest.mark.parametrize("name, source", [("column", "signature"), ("bare", "introspected")])
def test_record_then_verify_compares_the_same_synthesized_rows(templates: dict[str, Path], shared_home: Path, tmp_path: Path,
                                                               name: str, source: str) -> None:
    model = _copy(templates, name, tmp_path)
    recorded = envforge("record", str(model), home=shared_home)
    assert recorded.returncode == 0, recorded.output
    assert f"recorded 1 example(s) (synthesized: {source})" in recorded.stdout
    stored = json.loads((model / "envforge-expectations.json").read_text())["examples"]
    assert len(stored) == 1 and stored[0]["source"] == source and "introspect" not in stored[0]
    rows = stored[0]["payload"]["dataframe_split"]
    assert rows["columns"] == ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
    assert len(rows["data"]) == synthesize.ROWS
    if source == "signature":  # the same rows envforge's own synthesizer makes for this signature
        assert stored[0]["payload"] == synthesize.for_model(model)[0]["payload"]

    run, result = _verify(model, shared_home, tmp_path)
    assert run.returncode == 0, run.output
    assert result["status"] == "passed", result["reason"]
    assert result["reason"] == f"1 example(s) match the recorded predictions (inputs {synthesize.phrase(source)} at record time)"
    assert result["examples"][0]["source"] == source

    # the stored rows are what verify runs: edit one recorded prediction and verify must notice
    document = json.loads((model / "envforge-expectations.json").read_text())
    prediction = document["examples"][0]["prediction"]
    prediction["data"][0] = prediction["data"][0] + (1 if isinstance(prediction["data"][0], int) else 1.5)
    (model / "envforge-expectations.json").write_text(json.dumps(document))
    changed, result = _verify(model, shared_home, tmp_path)
    assert changed.returncode == 1 and result["status"] == "failed", changed.output


def test_a_model_that_raises_on_a_synthesized_input_is_unverified_with_its_error(templates: dict[str, Path], shared_home: Path,
                                                                                 tmp_path: Path) -> None:
    """The input, not the model, may be at fault: not a failure, but the error is shown; record refuses."""
    model = _copy(templates, "picky", tmp_path)
    run, result = _verify(model, shared_home, tmp_path)
    assert run.returncode == 0, run.output
    assert result["status"] == "unverified"
    assert result["reason"].startswith("the model loaded, but raised on an input synthesized from its signature: ValueError: unknown color(s)")
    assert "a synthesized input may not be one the model accepts: pass --input FILE" in result["reason"]
    assert result["model_error"]["stage"] == "predict" and result["model_error"]["example"] == "synthesized"
    assert "model error" in run.stdout
    recorded = envforge("record", str(model), home=shared_home)
    assert recorded.returncode == 1, recorded.output
    assert "(an input synthesized from its signature)" in recorded.output and "--input FILE" in recorded.output
