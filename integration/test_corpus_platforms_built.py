"""The corpus-platforms model logged on Databricks serverless (`databricks_runtime: client.5`, MLflow 3.14, Python
3.12.3), built end to end with its runtime profile (issue 32). tests/test_corpus_platforms.py builds the other
Databricks model (runtime 15.1) and only inspects this one. Its requirements.txt pins what the model imports; the
profile pins what it leaves open (pyarrow, threadpoolctl, joblib, packaging ...), and those must be the versions the
rebuilt env holds. The model pins psutil==5.9.0, which has no wheel for Python 3.12 (Databricks built it): the
default refuses that source build (exit 3, the test checks it), and --allow-source-builds compiles it (~20 s). No
input example: the input is synthesized from its signature, so the verdict is UNVERIFIED (it loads and predicts)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from envforge.spec.runtime_profiles import load_profile
from tests.support.cli import envforge, report
from tests.support.corpus import platforms_copy

pytestmark = pytest.mark.slow

OPEN = ("pyarrow", "threadpoolctl", "joblib", "packaging")  # not in requirements.txt; the runtime shipped them


def test_the_serverless_client_5_model_is_built_with_its_runtimes_versions(tmp_path: Path, home: Path) -> None:
    model = platforms_copy("mattia-sklearn-dbr-mlf314", tmp_path)
    profile = load_profile("client.5")
    pinned_by_model = (model / "requirements.txt").read_text()
    assert not any(f"{name}==" in pinned_by_model for name in OPEN), pinned_by_model

    refused = envforge("verify", str(model), "--json", str(tmp_path / "refused.json"), home=home)
    assert refused.returncode == 3 and "psutil==5.9.0" in refused.output and "Traceback" not in refused.output, refused.output

    run = envforge("verify", str(model), "--allow-source-builds", "--json", str(tmp_path / "r.json"), home=home)
    result = report(tmp_path / "r.json")
    assert run.returncode == 0 and result["status"] == "unverified", run.output
    assert result["examples"] and all(example["ok"] for example in result["examples"]), result["examples"]  # it loaded and predicted
    applied = result["env"]["runtime_profile"]
    assert applied["profile"] == "client.5" and "runtime profile client.5 applied" in run.output, applied
    script = "import importlib.metadata as m, json, sys; print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    done = subprocess.run([str(Path(result["env"]["path"]) / "bin" / "python"), "-c", script, *OPEN],
                          capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(done.stdout) == {name: profile.packages[name] for name in OPEN}
