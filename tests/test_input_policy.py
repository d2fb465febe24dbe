"""The inputs a model runs: one rule (modeldir/input_policy.py), two named policies. verify's `one_source`
takes the first source that has inputs; record's `all_given` keeps every --input file and the model's example.
On a real published model (the shared corpus) with an input example, plus one --input file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envforge.modeldir import expectations as expectations_mod
from envforge.modeldir.input_policy import all_given, one_source
from envforge.spec.mlmodel import read_mlmodel
from tests.support.corpus import corpus_copy

NAME = "aryan-sklearn-serving"  # has input_example.json


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("policy")
    path = corpus_copy(NAME, root)
    extra = root / "extra.json"
    extra.write_text((path / "input_example.json").read_text())
    return path, extra


def _names(runs: list[dict]) -> list[str]:
    return [r["name"] for r in runs]


def test_verify_takes_one_source_record_takes_every_given_input(model: tuple[Path, Path]) -> None:
    path, extra = model
    mlmodel = read_mlmodel(path)
    assert _names(one_source(path, mlmodel, None, ())) == ["input_example"]
    assert _names(one_source(path, mlmodel, None, (str(extra),))) == ["extra"]  # --input replaces the example
    assert _names(all_given(path, mlmodel, ())) == ["input_example"]
    assert _names(all_given(path, mlmodel, (str(extra),))) == ["extra", "input_example"]  # both recorded


def test_recorded_inputs_win_unless_an_input_is_given(model: tuple[Path, Path], tmp_path: Path) -> None:
    path, extra = model
    mlmodel = read_mlmodel(path)
    recorded = expectations_mod.build([{"name": "kept", "source": "file", "payload": [1]}],
                                      {"examples": [{"name": "kept", "ok": True, "prediction": [0]}]}, "0", model_dir=path)
    document = tmp_path / "expectations.json"
    document.write_text(json.dumps(recorded))
    expected = expectations_mod.load(str(document))
    assert _names(one_source(path, mlmodel, expected, ())) == ["kept"]
    assert _names(one_source(path, mlmodel, expected, (str(extra),))) == ["extra"]


def test_without_any_input_both_policies_synthesize_unless_told_not_to(tmp_path: Path) -> None:
    path = corpus_copy("akhil-sklearn-mlf127", tmp_path)  # no input example
    mlmodel = read_mlmodel(path)
    for policy in (lambda s: one_source(path, mlmodel, None, (), s), lambda s: all_given(path, mlmodel, (), s)):
        assert policy(False) == []
        made = policy(True)
        assert len(made) == 1 and made[0]["source"] != "example"
