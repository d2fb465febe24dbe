"""verify's options that no other test drove: --refresh (the model downloaded again from a real `mlflow server`),
--build-timeout (a real uv install that outlasts it: exit 3, the limit named, nothing half-built kept) and
--python (an explicit interpreter, found on this machine the way envforge finds them, named in the report)."""

from __future__ import annotations

import io
import json
import os
import platform
import tarfile
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from tests.support.cli import envforge, report
from tests.support.models import SCALE
from tests.support.oracle import assert_same_as_truth

pytestmark = pytest.mark.slow

CODE = SCALE.format(factor=3)
EXAMPLE = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
REFRESH_URI = "models:/corners-refresh/1"


def _step(result: dict, name: str) -> dict:
    return next(s for s in result["steps"] if s["name"] == name)


@pytest.fixture(scope="module")
def refresh_server(own_mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One registered code model, recorded (its expectations stored with it on the server)."""
    import mlflow

    from envforge.commands.record import record
    from envforge.modeldir.resolve import tracking_scope
    from tests.support.models import pinned_requirements

    root = tmp_path_factory.mktemp("refresh-model")
    source = root / "model.py"
    source.write_text(CODE)
    with tracking_scope(own_mlflow_server):
        mlflow.set_experiment("corners-refresh")
        with mlflow.start_run():
            info = mlflow.pyfunc.log_model(name="model", python_model=str(source), input_example=EXAMPLE,
                                           pip_requirements=pinned_requirements(), registered_model_name="corners-refresh")
    os.environ["ENVFORGE_HOME"] = str(root / "recorder-home")
    try:
        recorded = record(REFRESH_URI, tracking_uri=own_mlflow_server)
    finally:
        del os.environ["ENVFORGE_HOME"]
    return {"url": own_mlflow_server, "model_id": info.model_id, "expectations": Path(recorded.local_copy)}


def test_refresh_downloads_the_model_again_and_sees_what_changed_on_the_server(refresh_server: dict, home: Path,
                                                                              tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    url = refresh_server["url"]

    def verify(name: str, *extra: str) -> tuple[object, dict]:
        run = envforge("verify", REFRESH_URI, "--tracking-uri", url, "--json", str(tmp_path / name), *extra, home=home)
        return run, report(tmp_path / name)

    first, result = verify("1.json")
    assert first.returncode == 0, first.output
    assert result["status"] == "passed" and _step(result, "resolve")["detail"] == "downloaded"
    assert_same_as_truth(result, EXAMPLE["x"] * 3)
    second, result = verify("2.json")
    assert second.returncode == 0, second.output
    assert _step(result, "resolve")["detail"] == "cached" and result["env"]["reused"] is True

    # The server's copy changes: its stored expectations now say every prediction is 1 higher.
    changed = tmp_path / "changed" / refresh_server["expectations"].name
    changed.parent.mkdir()
    document = json.loads(refresh_server["expectations"].read_text())
    for example in document["examples"]:
        example["prediction"]["data"] = [v + 1.0 for v in example["prediction"]["data"]]
    changed.write_text(json.dumps(document))
    MlflowClient(tracking_uri=url, registry_uri=url).log_model_artifact(refresh_server["model_id"], str(changed))

    stale, result = verify("3.json")  # without --refresh: the cached download, as documented
    assert stale.returncode == 0, stale.output
    assert _step(result, "resolve")["detail"] == "cached" and result["status"] == "passed"
    refreshed, result = verify("4.json", "--refresh")
    assert refreshed.returncode == 1, refreshed.output
    assert _step(result, "resolve")["detail"] == "downloaded"
    assert result["status"] == "failed" and result["comparison"]["ok"] is False
    assert result["env"]["reused"] is True  # only the model was fetched again, the env is the same
    assert "mismatch" in refreshed.output.lower() or "differ" in refreshed.output.lower(), refreshed.output
    again, result = verify("5.json")  # the refreshed copy is the cache now
    assert again.returncode == 1 and _step(result, "resolve")["detail"] == "cached"


BACKEND = '''
"""A PEP 517 backend that hangs while the flag file exists, else builds a one-module wheel."""
import base64, hashlib, os, time, zipfile

if os.path.exists({flag!r}):
    time.sleep(900)


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    dist = "ef_slow-1.0.dist-info"
    files = {{"ef_slow.py": b"VALUE = 1\\n",
             dist + "/METADATA": b"Metadata-Version: 2.1\\nName: ef-slow\\nVersion: 1.0\\n",
             dist + "/WHEEL": b"Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}}
    lines = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append("%s,sha256=%s,%d" % (name, digest, len(data)))
    files[dist + "/RECORD"] = ("\\n".join(lines + [dist + "/RECORD,,"]) + "\\n").encode()
    wheel = "ef_slow-1.0-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel
'''


def _slow_sdist(directory: Path, flag: Path) -> None:
    """An sdist whose in-tree build backend (no build requirements, nothing fetched) hangs while `flag` exists."""
    directory.mkdir()
    members = {
        "pyproject.toml": '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
                          '[project]\nname = "ef-slow"\nversion = "1.0"\n',
        "PKG-INFO": "Metadata-Version: 2.1\nName: ef-slow\nVersion: 1.0\n",
        "backend.py": textwrap.dedent(BACKEND.format(flag=str(flag))),
    }
    with tarfile.open(directory / "ef_slow-1.0.tar.gz", "w:gz") as archive:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(f"ef_slow-1.0/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_a_build_over_build_timeout_exits_3_naming_it_and_leaves_nothing_a_next_run_trusts(
        sklearn_model: Path, sklearn_truth: object, home: Path, tmp_path: Path) -> None:
    flag = tmp_path / "hang"
    flag.touch()
    _slow_sdist(tmp_path / "wheels", flag)
    with (sklearn_model / "requirements.txt").open("a") as handle:
        handle.write("\nef-slow==1.0\n")
    args = ("verify", str(sklearn_model), "--find-links", str(tmp_path / "wheels"), "--allow-source-builds")  # ef-slow is an sdist
    timed_out = envforge(*args, "--build-timeout", "25", "--json", str(tmp_path / "t.json"), home=home)
    assert timed_out.returncode == 3, timed_out.output
    assert "Traceback" not in timed_out.output
    assert "timed out after 25 s" in timed_out.output, timed_out.output
    result = report(tmp_path / "t.json")
    assert result["status"] == "error" and "timed out after 25 s" in result["error"]["message"]
    assert "Installing the model's requirements with uv" in result["error"]["message"]
    listed = json.loads(envforge("cache", "list", "--json", home=home).stdout)["envs"]
    assert [e for e in listed if e["complete"]] == []  # nothing a next run would reuse
    envs = home / "envs"
    assert not envs.exists() or not [p for p in envs.rglob(".envforge-state.json")]

    flag.unlink()  # the same model, the backend no longer hangs: the next run builds afresh and passes
    built = envforge(*args, "--json", str(tmp_path / "b.json"), home=home)
    assert built.returncode == 0, built.output
    result = report(tmp_path / "b.json")
    assert result["status"] == "unverified" and result["env"]["reused"] is False  # no expectations recorded
    inside = envforge("run", str(sklearn_model), "--find-links", str(tmp_path / "wheels"), "--", "python", "-c",
                      "import ef_slow; print('ef_slow', ef_slow.VALUE)", home=home)
    assert inside.returncode == 0 and "ef_slow 1" in inside.stdout, inside.output  # the package the first run gave up on
    assert_same_as_truth(result, sklearn_truth)


def _explicit_interpreter() -> tuple[str, str]:
    """(path, version) of an interpreter of this Python's X.Y, as envforge's discovery finds them on this machine:
    preferably not the patch the model was logged with (so the choice is visibly the explicit one)."""
    from envforge.interpreters import discover

    minor = tuple(int(p) for p in platform.python_version().split(".")[:2])
    same_minor = [i for i in discover() if i.version_tuple[:2] == minor]
    assert same_minor, f"envforge finds no Python {minor} on this machine, yet the tests run on one"
    other_patch = [i for i in same_minor if i.version != platform.python_version()]
    chosen = (other_patch or same_minor)[0]
    return chosen.path, chosen.version


def test_python_uses_the_explicit_interpreter_and_the_report_says_so(sklearn_model: Path, sklearn_truth: object,
                                                                     home: Path, tmp_path: Path) -> None:
    path, version = _explicit_interpreter()
    run = envforge("verify", str(sklearn_model), "--python", path, "--json", str(tmp_path / "p.json"),
                   home=home)
    assert run.returncode == 0, run.output
    result = report(tmp_path / "p.json")
    assert result["env"]["interpreter"].startswith(f"explicit --python {path} ({version})"), result["env"]
    assert result["env"]["python"] == version and result["env"]["runner_python"] == version
    if version != platform.python_version():  # the model was logged with this process's Python
        assert any(f"--python {path} is {version}" in w for w in result["warnings"]), result["warnings"]
    assert_same_as_truth(result, sklearn_truth)

    # The env was built for that interpreter: a run without --python does not reuse it.
    plain = envforge("verify", str(sklearn_model), "--json", str(tmp_path / "d.json"), home=home)
    assert plain.returncode == 0, plain.output
    default = report(tmp_path / "d.json")
    assert default["env"]["reused"] is False and not default["env"]["interpreter"].startswith("explicit")
    assert default["env"]["path"] == result["env"]["path"]  # the same key: rebuilt in place, for the logged Python
    assert default["env"]["python"] == platform.python_version()
