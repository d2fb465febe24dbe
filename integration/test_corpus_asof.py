"""The shared corpus models that time broke: akhil-sklearn-mlf127 and hakymulla-lightgbm (numpy 2 under
wheels built for numpy 1.x) and boisalai-xgboost (setuptools 81+ without pkg_resources, which MLflow 2.5
imports) fail with `--resolve latest` and load with `--resolve logged`; bisect names numpy for one of
them (a full bisect is a few dozen builds, so one model here; the others are measured by hand).
Copies of the read-only corpus; the pickles are loaded only inside envs envforge built.
"""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

from tests.support.cli import envforge, report
from tests.support.corpus import CORPUS

pytestmark = pytest.mark.slow

BROKEN = {"akhil-sklearn-mlf127": "numpy.dtype size changed", "hakymulla-lightgbm": "numpy.dtype size changed",
          "boisalai-xgboost": "No module named 'pkg_resources'"}


def _copy(name: str, root: Path) -> Path:
    if not (CORPUS / name).is_dir():
        pytest.skip(f"the shared corpus model {name} is not at {CORPUS}: set ENVFORGE_CORPUS to the directory that holds it")
    model = Path(shutil.copytree(CORPUS / name, root / name))
    for path in [model, *model.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return model


@pytest.fixture(scope="module")
def corpus_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("corpus-asof-home")


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_today_loads_as_logged(name: str, tmp_path: Path, corpus_home: Path) -> None:
    model = _copy(name, tmp_path)
    latest = envforge("verify", str(model), "--resolve", "latest", "--json", str(tmp_path / "latest.json"), home=corpus_home,
                      timeout=1800)
    assert latest.returncode == 1, latest.output
    assert BROKEN[name] in report(tmp_path / "latest.json")["reason"]
    logged = envforge("verify", str(model), "--resolve", "logged", "--json", str(tmp_path / "logged.json"), home=corpus_home,
                      timeout=1800)
    assert logged.returncode == 0, logged.output
    result = report(tmp_path / "logged.json")
    # it loaded, and predicted on an input synthesized from what the loaded model reports (no example, no signature)
    assert result["status"] == "unverified" and "synthesized from what the loaded model reports" in result["reason"]
    assert [e["source"] for e in result["examples"]] == ["introspected"] and result["examples"][0]["ok"]
    assert result["env"]["resolution"]["mode"] == "logged" and result["env"]["resolved_as_of"]


def test_bisect_names_numpy_for_hakymulla(tmp_path: Path, corpus_home: Path) -> None:
    model = _copy("hakymulla-lightgbm", tmp_path)
    run = envforge("bisect", str(model), "--json", str(tmp_path / "b.json"), home=corpus_home, timeout=3600)
    assert run.returncode == 1, run.output
    result = json.loads((tmp_path / "b.json").read_text())
    assert result["verdict"] == "culprit" and result["culprit"]["package"] == "numpy", result["message"]
    assert result["culprit"]["to"].startswith("2.") and "pin `numpy<2`" in run.stdout
