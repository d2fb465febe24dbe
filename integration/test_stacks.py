"""envforge on the MLflow stack teams run (issue 31): PostgreSQL backend store, S3 artifacts (proxied by the server
and read directly by the client), MLflow's basic-auth app with an admin, a reader and a wrong password.

ONE stack (tests/support/stacks.py) and ONE model for the whole module, so ONE environment is built: a probe
model that answers with the names of the credential variables it can see, registered twice (proxied and direct
artifacts) and once more for the reader. Faked here, and only here: an absent boto3 (a `sys.modules` entry of
None in the envforge process that must say which extra to install; this venv needs boto3 for the S3 server itself).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import stacks
from tests.support.cli import CliRun, envforge

pytestmark = pytest.mark.slow

PROBE = """
import os

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

SECRETS = [s[::-1] for s in {secrets!r}]  # reversed in this file: the grep of what envforge wrote must not find them here
NAMES = ("AWS_", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")


class Model(PythonModel):
    def predict(self, context, model_input, params=None):
        seen = sorted(k for k, v in os.environ.items() if k.startswith(NAMES) or any(s in v for s in SECRETS))
        return pd.DataFrame({{"y": model_input["x"] * 2, "seen": [" ".join(seen)] * len(model_input)}})


mlflow.models.set_model(Model())
"""
CREDENTIALS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN", "AWS_ACCESS_KEY_ID",
               "AWS_SECRET_ACCESS_KEY")
TOKEN = "tok-Secret-ef31c7e0"  # MLFLOW_TRACKING_TOKEN beside the basic-auth pair (MLflow prefers the pair): seen by no model
NO_AWS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "MLFLOW_TRACKING_USERNAME",
          "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_URI")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    with stacks.stack(tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest.fixture(scope="module")
def probe(stack: stacks.Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The probe registered as stk-proxied/1 (mlflow-artifacts:), stk-direct/1 (s3://) and stk-readonly/1 (proxied)."""
    from mlflow.tracking import MlflowClient

    from tests.support.models import save_code_model

    model = save_code_model(tmp_path_factory.mktemp("probe") / "model", PROBE.format(secrets=[s[::-1] for s in _secrets(stack)]))
    saved = {k: os.environ.get(k) for k in stack.admin_env()}
    os.environ.update(stack.admin_env())
    try:
        client = MlflowClient(stack.tracking_uri, stack.tracking_uri)
        uris = {}
        for name, location in (("stk-proxied", None), ("stk-direct", stack.direct_root), ("stk-readonly", None)):
            experiment = client.create_experiment(name, artifact_location=location)
            run = client.create_run(experiment)
            client.log_artifacts(run.info.run_id, str(model), artifact_path="model")
            client.create_registered_model(name)
            client.create_model_version(name, source=f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
            uris[name] = f"models:/{name}/1"
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return uris


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The admin's ENVFORGE_HOME and report directory, shared by the tests so the probe's env is built once."""
    return tmp_path_factory.mktemp("admin")


def _secrets(stack: stacks.Stack) -> list[str]:
    return [*stack.secrets, TOKEN]


def _everything(stack: stacks.Stack) -> dict[str, str]:
    """Every credential the tests set at once: the admin's pair, a token, the S3 keys."""
    return {**stack.admin_env(), "MLFLOW_TRACKING_TOKEN": TOKEN}


def _run(stack: stacks.Stack, *args: str, home: Path, env: dict[str, str] | None = None) -> CliRun:
    isolated = {"AWS_CONFIG_FILE": str(stack.root / "no-aws-config"), "AWS_SHARED_CREDENTIALS_FILE": str(stack.root / "no-aws-creds")}
    given = {**isolated, **(env or {})}
    return envforge(*args, home=home, env=given, unset=tuple(n for n in NO_AWS if n not in given))


def test_401_without_or_with_wrong_credentials_names_the_variables_and_still_writes_the_reports(
        stack: stacks.Stack, probe: dict[str, str], tmp_path: Path) -> None:
    bare = _run(stack, "verify", probe["stk-proxied"], "--tracking-uri", stack.tracking_uri, "--json", str(tmp_path / "v.json"),
                home=tmp_path / "h")
    assert bare.returncode == 2, bare.output
    assert "HTTP 401" in bare.stderr and "MLFLOW_TRACKING_USERNAME" in bare.stderr and "MLFLOW_TRACKING_TOKEN" in bare.stderr
    assert "none of them is set" in bare.stderr and "reachable" not in bare.stderr and "Traceback" not in bare.output
    wrong = _run(stack, "verify-registry", "--tracking-uri", stack.tracking_uri, "--json", str(tmp_path / "r.json"),
                 "--junit", str(tmp_path / "r.xml"), home=tmp_path / "h",
                 env={"MLFLOW_TRACKING_USERNAME": stacks.ADMIN, "MLFLOW_TRACKING_PASSWORD": "not-the-password"})
    assert wrong.returncode == 2, wrong.output
    assert "HTTP 401" in wrong.stderr and "are set: check the values" in wrong.stderr
    result = json.loads((tmp_path / "r.json").read_text())["results"][0]  # written although nothing was listed
    assert (result["status"], result["exit_code"]) == ("error", 2) and "401" in result["reason"]
    assert "401" in (tmp_path / "r.xml").read_text()


def test_record_verify_registry_log_to_and_tags_as_admin_in_both_artifact_modes(
        stack: stacks.Stack, probe: dict[str, str], shared: Path) -> None:
    home = shared / "home"
    # Credentials in the tracking URI itself (user:password@host), for record: none may reach a file or the model.
    with_userinfo = stack.tracking_uri.replace("http://", f"http://{stacks.ADMIN}:{stacks.ADMIN_PASSWORD}@")
    for name in ("stk-proxied", "stk-direct"):
        recorded = _run(stack, "record", probe[name], home=home, env={**_everything(stack), "MLFLOW_TRACKING_URI": with_userinfo})
        assert recorded.returncode == 0, recorded.output
    stored = [json.loads(p.read_text()) for p in (home / "models").glob("*/model/envforge-expectations.json")]
    assert len(stored) == 2
    _assert_probe_saw_nothing([e["prediction"] for doc in stored for e in doc["examples"]])
    registry = _run(stack, "verify-registry", "--tracking-uri", stack.tracking_uri, "--models", "stk-[pd]*",
                    "--json", str(shared / "r.json"), "--junit", str(shared / "r.xml"), "--html", str(shared / "r.html"),
                    "--log-to", "envforge-stacks", "--tag-results", home=home, env=_everything(stack))
    assert registry.returncode == 0, registry.output
    report = json.loads((shared / "r.json").read_text())
    assert sorted((r["uri"], r["status"]) for r in report["results"]) == [
        ("models:/stk-direct/1", "passed"), ("models:/stk-proxied/1", "passed")]  # verify saw what record saw: nothing
    assert report["registry"]["environments"]["built"] + report["registry"]["environments"]["reused"] == 1
    status = _run(stack, "status", probe["stk-direct"], "--tracking-uri", stack.tracking_uri, home=home, env=stack.admin_env())
    assert status.returncode == 0 and "envforge.status = passed" in status.stdout, status.output
    assert "logged to MLflow: experiment envforge-stacks" in registry.stdout
    verify = _run(stack, "verify", probe["stk-direct"], "--tracking-uri", stack.tracking_uri, "--json", str(shared / "v.json"),
                  home=home, env=stack.admin_env())
    assert verify.returncode == 0, verify.output
    verified = json.loads((shared / "v.json").read_text())["results"][0]
    assert (verified["status"], verified["expectations_origin"]) == ("passed", "server"), verified
    for marker in (home / "models").glob("*/.envforge-download.json"):
        assert stat.S_IMODE(marker.stat().st_mode) == 0o600, marker


def test_run_and_shell_see_no_credential_unless_sandbox_off_and_say_what_they_see_first(
        stack: stacks.Stack, probe: dict[str, str], shared: Path) -> None:
    home, everything = shared / "home", _everything(stack)
    listing = "env; echo cwd=$(pwd) home=$HOME"
    ran = _run(stack, "run", probe["stk-direct"], "--tracking-uri", stack.tracking_uri, "--", "sh", "-c", listing,
               home=home, env=everything)
    assert ran.returncode == 0, ran.output
    first = ran.stderr.splitlines()[0]
    assert first.startswith("envforge: sandboxed (--sandbox auto): no network, not your home") and "no credential" in first, first
    shell = subprocess.run([sys.executable, "-m", "envforge", "shell", probe["stk-proxied"], "--tracking-uri", stack.tracking_uri],
                           input=listing + "\nexit 3\n", capture_output=True, text=True, timeout=600,
                           env={**os.environ, **everything, "ENVFORGE_HOME": str(home), "SHELL": "/bin/sh", "COLUMNS": "200"})
    assert shell.returncode == 3 and "home=/home/model" in shell.stdout, shell.stdout + shell.stderr
    assert "sandboxed (--sandbox auto)" in shell.stderr.splitlines()[0], shell.stderr
    for seen in (ran.stdout, shell.stdout):
        assert "MODEL_DIR=" in seen and "home=/home/model" in seen, seen  # the listing ran, in the sandbox
        leaked = [s for s in [*_secrets(stack), *CREDENTIALS] if s in seen]
        assert leaked == [], leaked
    # --sandbox off: the user's own environment, said first; the check above would have caught it.
    off = _run(stack, "run", probe["stk-direct"], "--tracking-uri", stack.tracking_uri, "--sandbox", "off", "--", "sh", "-c",
               "env", home=home, env=everything)
    assert off.returncode == 0 and stacks.AWS_SECRET in off.stdout and TOKEN in off.stdout, off.output
    first = off.stderr.splitlines()[0]
    assert first.startswith("envforge: UNSANDBOXED (--sandbox off)") and "MLFLOW_TRACKING_TOKEN" in first, first
    assert stacks.AWS_SECRET not in off.stderr and TOKEN not in off.stderr  # names, never values


def _assert_probe_saw_nothing(predictions: list[object]) -> None:
    """What the probe answered under `record`: the names of credential variables it saw (verify compares its own
    answer with this one, so a verify that passes saw the same: nothing)."""
    text = json.dumps(predictions)
    assert "seen" in text, text[:2000]  # the probe's answer is there...
    assert "AWS_" not in text and "MLFLOW_TRACKING" not in text, text[:2000]  # ...and names nothing


def test_a_reader_is_told_403_and_a_refused_upload_never_verifies_from_the_cache(
        stack: stacks.Stack, probe: dict[str, str], shared: Path) -> None:
    home = shared / "reader-home"
    refused = _run(stack, "record", probe["stk-readonly"], "--tracking-uri", stack.tracking_uri, home=home, env=stack.reader_env())
    assert refused.returncode == 2, refused.output
    assert "HTTP 403" in refused.stderr and stacks.READER in refused.stderr and "--expected" in refused.stderr
    kept = list((home / "unstored").glob("*/envforge-expectations.json"))
    assert len(kept) == 1 and not list((home / "models").glob("*/model/envforge-expectations.json"))
    again = _run(stack, "verify", probe["stk-readonly"], "--tracking-uri", stack.tracking_uri, "--json", str(shared / "reader.json"),
                 home=shared / "home", env=stack.reader_env())  # the admin's home: its env is built; its cache is the reader's too
    result = json.loads((shared / "reader.json").read_text())["results"][0]
    assert result["status"] == "unverified", again.output  # not passed against a file the server never got
    assert result["expectations"] is None and result["expectations_origin"] is None
    explicit = _run(stack, "verify", probe["stk-readonly"], "--tracking-uri", stack.tracking_uri, "--expected", str(kept[0]),
                    "--json", str(shared / "explicit.json"), home=shared / "home", env=stack.reader_env())
    assert explicit.returncode == 0, explicit.output
    named = json.loads((shared / "explicit.json").read_text())["results"][0]
    assert named["expectations_origin"] == "unstored" and "the server never got" in explicit.stdout, explicit.output
    tagged = _run(stack, "verify-registry", "--tracking-uri", stack.tracking_uri, "--models", "stk-proxied", "--tag-results",
                  home=shared / "home", env=stack.reader_env())
    assert "HTTP 403" in tagged.stderr and "tag stk-proxied/1" in tagged.stderr, tagged.output


def test_direct_s3_without_credentials_or_without_boto3_says_what_to_set_or_install(
        stack: stacks.Stack, probe: dict[str, str], shared: Path, tmp_path: Path) -> None:
    plain = {**stack.admin_env()}
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        plain.pop(name)
    no_keys = _run(stack, "verify", probe["stk-direct"], "--tracking-uri", stack.tracking_uri, home=tmp_path / "h", env=plain)
    assert no_keys.returncode == 2, no_keys.output
    assert "AWS_ACCESS_KEY_ID" in no_keys.stderr and "reachable" not in no_keys.stderr, no_keys.stderr
    # boto3 absent from envforge's process (faked: see the module's docstring); all versions error -> exit 2 = JSON's.
    blocked = ("import runpy, sys; sys.modules.update(boto3=None, botocore=None); sys.argv = ['envforge'] + sys.argv[1:]; "
               "runpy.run_module('envforge', run_name='__main__')")
    env = {**os.environ, **stack.admin_env(), "ENVFORGE_HOME": str(tmp_path / "h2"), "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-c", blocked, "verify-registry", "--tracking-uri", stack.tracking_uri, "--models",
                           "stk-direct", "--json", str(tmp_path / "r.json")], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 2, done.stdout + done.stderr
    result = json.loads((tmp_path / "r.json").read_text())["results"][0]
    assert result["exit_code"] == 2 and "envforge-mlflow[s3]" in result["error"]["remedy"], result


def test_no_password_or_key_in_anything_envforge_wrote(stack: stacks.Stack, shared: Path) -> None:
    """Reports, caches, logs: every file under the homes and report directories of the tests above."""
    found = []
    for path in shared.rglob("*"):
        if path.is_file() and not path.is_symlink() and "envs" not in path.relative_to(shared).parts:
            data = path.read_bytes()
            found += [f"{path}: {secret}" for secret in _secrets(stack) if secret.encode() in data]
    assert found == []
    assert list(shared.rglob(".envforge-download.json"))  # the check above did look at the cache metadata


def test_the_rest_reader_sends_the_credentials_mlflow_sends(stack: stacks.Stack, probe: dict[str, str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The warm path's registry call (modeldir/rest_registry.py) authenticates from the variables MLflow reads; refused,
    it answers nothing and MLflow's client is asked (whose 401 names the variables: the first test)."""
    from mlflow.tracking import MlflowClient

    from envforge.modeldir.rest_registry import alias_version, model_version

    for name in NO_AWS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(stack.root))  # no ~/.mlflow/credentials of the machine's
    assert model_version(stack.tracking_uri, "stk-proxied", "1") is None  # 401
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", stacks.ADMIN)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "not-the-password")
    assert model_version(stack.tracking_uri, "stk-proxied", "1") is None
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", stacks.ADMIN_PASSWORD)
    row = model_version(stack.tracking_uri, "stk-proxied", "1")
    mv = MlflowClient(stack.tracking_uri, stack.tracking_uri).get_model_version("stk-proxied", "1")
    assert row is not None and (row.run_id, row.source, row.creation_time) == (mv.run_id, mv.source, mv.creation_timestamp)
    assert alias_version(stack.tracking_uri, "stk-proxied", "nobody") is None
