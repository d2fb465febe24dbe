"""The shared corpus: eight model directories real users logged (MLflow 1.27 to 3.9, Python 3.8 to 3.12).

`envforge inspect` must read every one. `envforge verify` must end each one with a verdict, or with a
reason that names what failed (the file, the pin, the interpreter): never an internal error.
The models have no expectations, so "unverified" is the best outcome. What each one ends with
today is pinned below, with the alternatives that a newer release of an unpinned dependency
could legitimately turn it into.
"""

from __future__ import annotations

import json
import re
import shutil
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.cli import CliRun, envforge
from tests.support.corpus import CORPUS

# The first test's set-up runs all eight verifies (talha's is a source build of scikit-learn 0.23.2): on a loaded
# 2-core machine that passed the default 900 s of pytest-timeout, and all 16 tests erred although every verify was
# still going. Each verify has its own deadline (_run), so the module's bound only has to cover their sum.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

NAMES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir()) if CORPUS.is_dir() else []
NO_EXPECTATIONS = "no expectations were recorded"
FROM_SIGNATURE = "predictions ran on an input synthesized from its signature"
FROM_MODEL = "predictions ran on an input synthesized from what the loaded model reports"
# name -> allowed (status, substrings of the reason) outcomes, the first one being today's.
EXPECTED: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    # With `--resolve latest` unpinned numpy resolves to 2.x under scikit-learn 1.0.2 / pandas 1.4.3 wheels built
    # for 1.x, and unpinned setuptools (boisalai's build dependency) to a release without pkg_resources, which
    # MLflow 2.5 imports (integration/test_corpus_asof.py). verify's default, `--resolve logged`, resolves them as
    # the index stood the day each model was logged: all three load; with no input example, each predicts on an
    # input synthesized from what the loaded model reports.
    "akhil-sklearn-mlf127": [("unverified", (FROM_MODEL, NO_EXPECTATIONS))],
    "hakymulla-lightgbm": [("unverified", (FROM_MODEL, NO_EXPECTATIONS))],
    "aryan-sklearn-serving": [("unverified", (NO_EXPECTATIONS,))],
    "boisalai-xgboost": [("unverified", (FROM_MODEL, NO_EXPECTATIONS))],
    # A PythonModel pickled by reference to the training project's own module, logged without code_paths.
    "ekorczak-pyfunc-mlf3": [("failed", ("No module named 'custom_transformers'", "code_paths"))],
    # scikit-learn 0.23.2 has no wheel for Python 3.9: built from source. As logged (2021-09-22) its build
    # dependencies resolve as they stood then and the build succeeds (27 minutes on a busy 2-core machine the
    # first time; uv keeps the wheel it built); with today's (`--resolve latest`) it fails on the old numpy
    # build pin, as it may where no compiler is. 0.23 predates n_features_in_: its input may not be knowable.
    "talha-sklearn-condaonly": [("unverified", ("synthesized",)), ("unverified", (NO_EXPECTATIONS,)),
                                ("error", ("scikit-learn==0.23.2", "Python 3.9", "from source"))],
    # No input example: a float32 (-1, 1) tensor from the signature; statsmodels' exog_names (no signature).
    "tsazure-pytorch": [("unverified", (FROM_SIGNATURE, NO_EXPECTATIONS))],
    "vnb-statsmodels": [("unverified", (FROM_MODEL, NO_EXPECTATIONS))],
}
# name -> where the input of a model that got as far as predicting comes from (envforge.modeldir.synthesize)
SOURCES = {"aryan-sklearn-serving": "example", "ekorczak-pyfunc-mlf3": "example", "tsazure-pytorch": "signature",
           "vnb-statsmodels": "introspected", "boisalai-xgboost": "introspected", "akhil-sklearn-mlf127": "introspected",
           "hakymulla-lightgbm": "introspected", "talha-sklearn-condaonly": "introspected"}
SLOWEST_FIRST = ["tsazure-pytorch", "akhil-sklearn-mlf127", "aryan-sklearn-serving", "ekorczak-pyfunc-mlf3"]


@dataclass
class Outcome:
    name: str
    inspect_text: CliRun
    inspect_json: CliRun
    verify: CliRun
    result: dict
    seconds: float


def _copy(name: str, root: Path) -> Path:
    model = Path(shutil.copytree(CORPUS / name, root / name))
    for path in [model, *model.rglob("*")]:  # the corpus is read-only; the copy is the test's
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return model


def _run(name: str, root: Path, home: Path) -> Outcome:
    model = _copy(name, root / "models")
    start = time.monotonic()
    text, as_json = envforge("inspect", str(model), home=home), envforge("inspect", str(model), "--json", home=home)
    report = root / f"{name}.json"
    verify = envforge("verify", str(model), "--json", str(report), home=home, timeout=3600)  # talha: a long source build
    result = json.loads(report.read_text())["results"][0] if report.is_file() else {}
    return Outcome(name, text, as_json, verify, result, time.monotonic() - start)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """All eight, two at a time (each build is mostly waiting on disk and the package index)."""
    root = tmp_path_factory.mktemp("corpus")
    home = root / "envforge-home"
    order = [n for n in SLOWEST_FIRST if n in NAMES] + [n for n in NAMES if n not in SLOWEST_FIRST]
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(lambda name: _run(name, root, home), order))
    table = ["| model | status | exit | seconds | reason |", "|---|---|---|---|---|"]
    table += [f"| {o.name} | {o.result.get('status')} | {o.verify.returncode} | {o.seconds:.0f} | {o.result.get('reason', '')} |"
              for o in sorted(done, key=lambda o: o.name)]
    print("\n" + "\n".join(table))
    (root / "outcomes.md").write_text("\n".join(table) + "\n")
    return {o.name: o for o in done}


def test_the_corpus_is_there() -> None:
    assert set(NAMES) == set(EXPECTED), "the corpus changed: update EXPECTED"


@pytest.mark.parametrize("name", NAMES)
def test_inspect_reads_every_model(outcomes: dict[str, Outcome], name: str) -> None:
    outcome = outcomes[name]
    assert outcome.inspect_text.returncode == 0, outcome.inspect_text.output
    assert outcome.inspect_json.returncode == 0, outcome.inspect_json.output
    info = json.loads(outcome.inspect_json.stdout)
    assert info["flavors"] and "python_function" in info["flavors"]
    assert re.match(r"3\.\d+(\.\d+)? \(from (python_env\.yaml|conda\.yaml|MLmodel)\)", info["python"])
    assert any(r.startswith("mlflow") for r in info["requirements"])
    assert len(info["env_key"]) == 64 and info["env_key"] in outcome.inspect_text.stdout
    assert info["env_key"] == outcome.result["env"]["key"]  # inspect names the env verify builds
    assert ("input_example:" in " ".join(info["input_examples"])) == (CORPUS / name / "input_example.json").is_file()


@pytest.mark.parametrize("name", NAMES)
def test_verify_ends_with_a_verdict_or_a_specific_reason(outcomes: dict[str, Outcome], name: str) -> None:
    outcome = outcomes[name]
    run, result = outcome.verify, outcome.result
    assert run.returncode in (0, 1, 3), run.output  # never 70 (an internal error) nor 2 (the corpus models are valid)
    assert "internal error" not in run.output and "Traceback (most recent call last)" not in run.stderr
    assert result, f"no JSON report: {run.output}"
    status, reason = result["status"], result["reason"]
    assert result["exit_code"] == run.returncode
    assert any(status == want and all(s in reason for s in needles) for want, needles in EXPECTED[name]), (status, reason)
    assert reason in run.output or reason.split(" (")[0] in run.output  # an error once, on stderr; a verdict on stdout
    if status == "error":  # the env could not be built: the message names the pin and the interpreter
        assert re.search(r"`[A-Za-z0-9_.\-]+==[^`]+`", reason) and re.search(r"Python 3\.\d+\.\d+", reason)
        assert result["error"]["remedy"]
    else:  # built: the report says which interpreter was used for which logged version
        assert result["env"]["python"] and result["env"]["logged_python"] and result["env"]["interpreter"]
    if status == "failed":
        assert result["model_error"]["stage"] == "load" and result["model_error"]["type"]
    if status == "unverified":  # every model that loads predicts on some input, and the report says which
        assert result["examples"] and all(e["ok"] for e in result["examples"]), result["examples"]
        assert {e["source"] for e in result["examples"]} == {SOURCES[name]}
