"""A private package on a real local PEP 503 index: named in the model's requirements.txt, or added by
the user with --extra-index-url; credentials in the index URL never reach any output."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import envforge, report
from tests.support.models import make_wheel, pinned_requirements, record_digests_again
from tests.support.pep503 import Index, serve

pytestmark = pytest.mark.slow

PACKAGE, VERSION = "ef_private_pkg", "0.1.0"
HELPER = "def scale(values):\n    return values * 7 + 1\n"
MODEL = """
    import mlflow.pyfunc
    class M(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            import ef_private_pkg
            return ef_private_pkg.scale(model_input["x"])
    mlflow.models.set_model(M())
"""
TOKEN = "s3cr3t-t0ken-4711"


@pytest.fixture(scope="module")
def private_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A model whose requirements name ef-private-pkg (on no public index), recorded in a training env
    that had it importable from source. Returns (model template, wheel)."""
    import mlflow.pyfunc
    import pandas as pd

    root = tmp_path_factory.mktemp("private")
    source = root / "src"
    source.mkdir()
    (source / f"{PACKAGE}.py").write_text(HELPER)
    wheel = make_wheel(root / "dist", PACKAGE, VERSION, HELPER)
    code = root / "model_code.py"
    code.write_text(textwrap.dedent(MODEL))
    model = root / "model"
    mlflow.pyfunc.save_model(str(model), python_model=str(code), input_example=pd.DataFrame({"x": [1.0, 2.5, -3.0]}),
                             pip_requirements=[*pinned_requirements(), f"ef-private-pkg=={VERSION}"])
    recorded = envforge("record", str(model), home=root / "home", env={"PYTHONPATH": str(source)})
    assert recorded.returncode == 0, recorded.output
    return model, wheel


@pytest.fixture
def index(tmp_path: Path, private_model: tuple[Path, Path]) -> Iterator[Index]:
    with serve(tmp_path / "index", [private_model[1]]) as served:
        yield served


def _copy(template: Path, tmp_path: Path, first_line: str | None = None) -> Path:
    import shutil

    model = Path(shutil.copytree(template, tmp_path / "model"))
    if first_line:
        reqs = model / "requirements.txt"
        reqs.write_text(first_line + "\n" + reqs.read_text())
        record_digests_again(model)  # stands for a model logged with that line (the artifact gate, issue 29)
    return model


def _installed_private(result: dict) -> bool:
    return any(Path(result["env"]["path"]).glob(f"lib/python*/site-packages/{PACKAGE}.py"))


def test_extra_index_url_inside_requirements_txt(private_model, index: Index, tmp_path: Path, home: Path) -> None:
    model = _copy(private_model[0], tmp_path, f"--extra-index-url {index.simple}")
    run = envforge("verify", str(model), "--json", str(tmp_path / "r.json"), home=home)
    assert run.returncode == 0, run.output
    result = report(tmp_path / "r.json")
    assert result["status"] == "passed" and _installed_private(result)
    assert f"GET /packages/{PACKAGE}-{VERSION}-py3-none-any.whl" in index.requests()


def test_extra_index_url_from_the_command_line(private_model, index: Index, tmp_path: Path, home: Path) -> None:
    model = _copy(private_model[0], tmp_path)
    without = envforge("verify", str(model), home=home)
    assert without.returncode == 3, without.output
    assert "ef-private-pkg" in without.output and "Traceback" not in without.output
    run = envforge("verify", str(model), "--extra-index-url", index.simple, "--json", str(tmp_path / "r.json"), home=home)
    assert run.returncode == 0, run.output
    result = report(tmp_path / "r.json")
    assert result["status"] == "passed" and _installed_private(result)
    assert "--extra-index-url" not in (model / "requirements.txt").read_text()  # the model was not edited
    inspected = json.loads(envforge("inspect", str(model), "--json", "--extra-index-url", index.simple, home=home).stdout)
    assert inspected["env_key"] == result["env"]["key"]  # inspect and verify name the same env


def test_credentials_in_index_urls_appear_nowhere(private_model, index: Index, tmp_path: Path, home: Path) -> None:
    model = _copy(private_model[0], tmp_path, f"--extra-index-url {index.with_credentials('ci-user:' + TOKEN)}")
    outputs: list[str] = []
    for name, extra in (("ok", []), ("broken", ["ef-private-pkg==9.9.9"])):
        if extra:  # a pin the index does not have: the error message quotes the installer's command line
            reqs = model / "requirements.txt"
            reqs.write_text(reqs.read_text().replace(f"ef-private-pkg=={VERSION}", extra[0]))
            record_digests_again(model)
        json_path, junit_path = tmp_path / f"{name}.json", tmp_path / f"{name}.xml"
        run = envforge("verify", str(model), "--extra-index-url", index.with_credentials(f"cli-user:{TOKEN}-cli"),
                       "--json", str(json_path), "--junit", str(junit_path), home=home)
        assert run.returncode == (0 if name == "ok" else 3), run.output
        outputs += [run.stdout, run.stderr, json_path.read_text(), junit_path.read_text()]
        if name == "ok":
            result = report(json_path)
            assert result["status"] == "passed" and _installed_private(result)
            outputs.append((Path(result["env"]["path"]) / ".envforge-state.json").read_text())
        else:
            assert "ef-private-pkg" in run.output and "***@127.0.0.1" in run.output
    for flag in ([], ["--json"]):
        outputs.append(envforge("inspect", str(model), *flag, "--extra-index-url", index.with_credentials(f"u:{TOKEN}"), home=home).output)
    for text in outputs:
        assert TOKEN not in text
    assert any("***@127.0.0.1" in text for text in outputs)
