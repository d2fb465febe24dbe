"""The docker backend's generated build contexts (no engine needed): model strings never become shell
code, credentials never reach the Dockerfile or the final stage, the Python policy, `envforge dockerfile`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from envforge.backends.base import BuildOptions
from envforge.backends.docker import python_policy
from envforge.backends.docker.context import default_base_image, env_context
from envforge.errors import InterpreterNotFound, ModelDirError
from envforge.spec import load_spec
from tests.support.cli import envforge

MLMODEL = """\
flavors:
  python_function:
    loader_module: mlflow.sklearn
    python_version: 3.11.7
    env:
      virtualenv: python_env.yaml
mlflow_version: 3.1.0
"""
TOKEN = "t0ps3cret-99"


def _model(tmp_path: Path, requirements: str = "mlflow==3.1.0\nscikit-learn==1.5.0\n", apt: str | None = None) -> Path:
    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text(MLMODEL)
    (model / "requirements.txt").write_text(requirements)
    (model / "python_env.yaml").write_text("python: 3.11.7\nbuild_dependencies:\n- pip\ndependencies:\n- -r requirements.txt\n")
    if apt is not None:
        (model / "artifacts").mkdir()
        (model / "artifacts" / "apt.txt").write_text(apt)
    return model


def _dockerfile(model: Path, options: BuildOptions | None = None):
    return env_context(load_spec(model, "docker"), model, options or BuildOptions(), "debian-python:12", "0.5.0")


def test_apt_packages_are_exec_form_arguments_and_part_of_the_key(tmp_path: Path) -> None:
    model = _model(tmp_path, apt="jq  libgomp1 # comment\nlibgomp1\n")
    spec = load_spec(model, "docker")
    assert spec.system_packages == ("jq", "libgomp1")
    run = next(line for line in _dockerfile(model).dockerfile.splitlines() if "envforge-apt" in line)
    argv = json.loads(run[len("RUN "):])
    assert argv[0] == "/bin/sh" and argv[-3:] == ["envforge-apt", "jq", "libgomp1"]
    assert "jq" not in argv[2]  # the script itself never contains a model's string
    (model / "artifacts" / "apt.txt").write_text("jq\n")
    assert load_spec(model, "docker").key != spec.key
    assert "only --backend docker installs them" in " ".join(load_spec(model, "uv").notes)


@pytest.mark.parametrize("bad", ["jq;rm -rf /", "$(id)", "Jq", "-oAPT::x=1", "a`b`"])
def test_a_package_name_that_is_not_one_is_refused(tmp_path: Path, bad: str) -> None:
    model = _model(tmp_path, apt=f"jq\n{bad}\n")
    with pytest.raises(ModelDirError, match="line 2"):
        load_spec(model, "docker")


def test_a_credential_in_an_index_url_stays_a_build_arg_of_a_stage_the_image_does_not_keep(tmp_path: Path) -> None:
    secret_url = f"https://ci:{TOKEN}@pkgs.example.test/simple"
    ctx = _dockerfile(_model(tmp_path, f"--extra-index-url {secret_url}\nmlflow==3.1.0\n"))
    assert TOKEN not in ctx.dockerfile
    assert ctx.build_args["UV_EXTRA_INDEX_URL"] == secret_url and "UV_EXTRA_INDEX_URL" in ctx.secret_args
    assert TOKEN not in json.dumps(ctx.redacted_args())
    stages = re.split(r"^FROM ", ctx.dockerfile, flags=re.M)
    assert len(stages) == 4  # comment, runtime, deps (with the ARGs), the final stage
    assert "ARG UV_EXTRA_INDEX_URL" in stages[2] and "ARG" not in stages[3]
    assert "COPY --from=envforge-deps /opt/envforge/venv /opt/envforge/venv" in stages[3]


def test_index_settings_without_credentials_build_in_one_stage(tmp_path: Path) -> None:
    ctx = _dockerfile(_model(tmp_path), BuildOptions(index_url="https://mirror.example.test/simple"))
    assert ctx.dockerfile.count("\nFROM ") == 1 and not ctx.secret_args
    assert ctx.build_args["UV_INDEX_URL"] == ctx.build_args["PIP_INDEX_URL"] == "https://mirror.example.test/simple"
    assert "ARG UV_INDEX_URL" in ctx.dockerfile and "mirror.example.test" not in ctx.dockerfile


def test_ca_bundle_is_trusted_before_anything_is_downloaded(tmp_path: Path) -> None:
    bundle = tmp_path / "proxy.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    ctx = _dockerfile(_model(tmp_path), BuildOptions(ca_bundle=str(bundle)))
    lines = ctx.dockerfile.splitlines()
    assert ctx.files["envforge-build/ca-bundle.crt"] == bundle.read_bytes()
    trust = next(i for i, line in enumerate(lines) if "update-ca-certificates" in line)
    assert trust < next(i for i, line in enumerate(lines) if "pip install --quiet uv==" in line)


def test_python_policy_and_default_base_image() -> None:
    assert default_base_image("3.11.7") == "python:3.11-slim" and default_base_image(None) == "python:3-slim"
    assert python_policy("3.11.2", "3.11.2", "b", "auto")[1] is None
    reason, warning = python_policy("3.11.7", "3.11.2", "b", "auto")
    assert warning and "same minor version" in warning
    with pytest.raises(InterpreterNotFound, match="3.11.2"):
        python_policy("3.11.7", "3.11.2", "b", "exact")
    with pytest.raises(InterpreterNotFound) as info:
        python_policy("3.10.13", "3.11.2", "b", "auto")
    assert "python:3.10-slim" in info.value.remedy


def test_envforge_dockerfile_writes_a_whole_build_context(tmp_path: Path) -> None:
    model = _model(tmp_path, apt="jq\n")
    out = tmp_path / "ctx"
    run = envforge("dockerfile", str(model), "-o", str(out), "--base-image", "debian-python:12", home=tmp_path / "home")
    assert run.returncode == 0, run.output
    dockerfile = (out / "Dockerfile").read_text()
    assert dockerfile.splitlines()[1] == "FROM debian-python:12"
    assert (out / "model" / "MLmodel").is_file() and (out / "runner" / "run_model.py").is_file()
    assert (out / "runner" / "introspect.py").is_file() and "COPY runner/ /opt/envforge/runner/" in dockerfile  # loaded by run_model.py
    assert (out / "envforge-build" / "requirements.txt").read_text().splitlines() == ["pip", "mlflow==3.1.0", "scikit-learn==1.5.0"]
    assert 'ENTRYPOINT ["/opt/envforge/venv/bin/mlflow", "models", "serve"' in dockerfile and "USER 10001" in dockerfile
    assert "docker build --network host" in run.stdout
    again = envforge("dockerfile", str(model), "-o", str(out), home=tmp_path / "home")
    assert again.returncode == 2 and "not empty" in again.output
