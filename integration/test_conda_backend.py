"""The conda backend end to end: a real local conda channel (built with rattler-build), real py-rattler,
conda-lock's own format and `conda-lock render`, and the pip section from the package index via uv."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from envforge.backends.conda.records import installed
from tests.support.cli import envforge, report
from tests.support.conda_models import GREETING, fake_ef_hello, save_conda_model
from tests.support.env_damage import assert_rebuilt_for_a_missing_file
from tests.support.models import record_digests_again
from tests.support.oracle import assert_same_as_truth

pytestmark = [pytest.mark.slow, pytest.mark.conda]


@pytest.fixture(scope="module")
def conda_model(conda_channel: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model whose conda.yaml names the local channel and ef-hello; predictions recorded in a training
    env that had an ef-hello of its own (the verifying process has none on its PATH)."""
    root = tmp_path_factory.mktemp("conda-model")
    model = save_conda_model(root / "model", [conda_channel])
    training_bin = fake_ef_hello(root / "training-bin")
    recorded = envforge("record", str(model), home=root / "home",
                        env={"PATH": f"{training_bin}:{Path(sys.executable).parent}:/usr/bin:/bin"})
    assert recorded.returncode == 0, recorded.output
    assert GREETING in (model / "envforge-expectations.json").read_text()
    return model


@pytest.fixture(scope="module")
def solved(conda_model: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """`verify --backend conda` from scratch: solve, lock, link, install; the JSON report."""
    root = tmp_path_factory.mktemp("conda-solved")
    run = envforge("verify", str(conda_model), "--backend", "conda", "--json", str(root / "r.json"), home=root / "home")
    assert run.returncode == 0, run.output
    return {**report(root / "r.json"), "home": root / "home"}


def lock_entries(path: Path, manager: str) -> list[dict]:
    return [p for p in yaml.safe_load(path.read_text())["package"] if p["manager"] == manager]


def conda_records(entries: list[dict]) -> list[tuple]:
    return sorted((p["name"], p["version"], p["build"], p["url"], p["hash"]["md5"], p["hash"]["sha256"]) for p in entries)


def meta_records(env: Path) -> list[tuple]:
    return sorted((p.name, p.version, p.build, p.url, p.md5, p.sha256) for p in installed(env))


def pip_versions(env: Path) -> dict[str, str]:
    from importlib.metadata import distributions

    from packaging.utils import canonicalize_name

    sites = [str(s) for s in env.glob("lib/python3.*/site-packages")]
    assert len(sites) == 1, sites
    return {str(canonicalize_name(d.metadata["Name"])): d.version for d in distributions(path=sites)}


def test_verify_passes_using_the_conda_package(solved: dict, conda_model: Path, conda_packaged: dict) -> None:
    assert shutil.which("ef-hello") is None  # so only the rebuilt env can have provided it
    assert solved["status"] == "passed" and solved["env"]["reused"] is False
    # An oracle independent of the runner: the greeting the channel's ef-hello prints, for each x of the example.
    assert_same_as_truth(solved, [f"{GREETING}: {x}" for x in [1.0, 2.0, 3.0]])
    env = Path(solved["env"]["path"])
    assert (env / "bin" / "ef-hello").is_file() and solved["env"]["python"] == conda_packaged["python"]
    # conda-meta/ holds exactly the records of the lock the build wrote, with their hashes
    lock = env / "conda-lock.yml"
    assert meta_records(env) == conda_records(lock_entries(lock, "conda"))
    assert {r[0]: r[1] for r in meta_records(env)} == {"python": conda_packaged["python"], "pip": conda_packaged["pip"], "ef-hello": "1.0.0"}
    # the pip section was installed exactly as locked (pip itself comes from conda, so it is not in the pip part)
    have = pip_versions(env)
    pins = {p["name"]: p["version"] for p in lock_entries(lock, "pip")}
    assert pins and all(have.get(name) == version for name, version in pins.items())
    assert pins["mlflow"] == yaml.safe_load((conda_model / "conda.yaml").read_text())["dependencies"][-1]["pip"][0].split("==")[1]
    assert "pip" not in pins and have["pip"] == conda_packaged["pip"]
    # a second verify reuses the env
    again = envforge("verify", str(conda_model), "--backend", "conda", "--json", str(env.parent / "again.json"), home=solved["home"])
    assert again.returncode == 0, again.output
    assert report(env.parent / "again.json")["env"]["reused"] is True


def test_lock_renders_and_reinstalls_the_identical_env(conda_model: Path, solved: dict, tmp_path: Path, home: Path) -> None:
    lock = tmp_path / "conda-lock.yml"
    run = envforge("lock", str(conda_model), "--backend", "conda", "-o", str(lock), home=home)
    assert run.returncode == 0, run.output
    conda, pip = lock_entries(lock, "conda"), lock_entries(lock, "pip")
    assert conda_records(conda) == meta_records(Path(solved["env"]["path"]))  # the same solution as the build's
    assert all(len(p["hash"]["sha256"]) == 64 for p in pip)
    render = subprocess.run([str(Path(sys.executable).parent / "conda-lock"), "render", "--kind", "explicit", str(lock)],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert render.returncode == 0, render.stdout + render.stderr
    rendered = (tmp_path / "conda-linux-64.lock").read_text()
    assert "@EXPLICIT" in rendered
    assert all(f"{p['url']}#{p['hash']['md5']}" in rendered for p in conda)
    assert all(f"# pip {p['name']} @ {p['url']}#sha256={p['hash']['sha256']}" in rendered for p in pip)

    fresh = tmp_path / "fresh-home"
    again = envforge("verify", str(conda_model), "--backend", "conda", "--lockfile", str(lock), "--json", str(tmp_path / "r.json"), home=fresh)
    assert again.returncode == 0, again.output
    result = report(tmp_path / "r.json")
    assert result["status"] == "passed" and result["env"]["reused"] is False
    rebuilt, first = Path(result["env"]["path"]), Path(solved["env"]["path"])
    assert rebuilt != first
    assert meta_records(rebuilt) == conda_records(conda) == meta_records(first)  # same records, same hashes
    assert pip_versions(rebuilt) == pip_versions(first)
    assert (rebuilt / "conda-lock.yml").read_bytes() == lock.read_bytes()  # the env keeps the lock it installed


def test_a_lock_in_the_model_dir_is_installed_without_solving(conda_model: Path, solved: dict, conda_packaged: dict,
                                                               tmp_path: Path, home: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(conda_model, model)
    shutil.copyfile(Path(solved["env"]["path"]) / "conda-lock.yml", model / "conda-lock.yml")
    spec = yaml.safe_load((model / "conda.yaml").read_text())
    spec["dependencies"] = [f"python={conda_packaged['python']}", "ef-hello>=2", spec["dependencies"][-1]]  # unsatisfiable: a solve would fail
    (model / "conda.yaml").write_text(yaml.safe_dump(spec))
    record_digests_again(model)  # the edited copy stands for a model recorded that way (the artifact gate, issue 29)
    run = envforge("verify", str(model), "--backend", "conda", "--json", str(tmp_path / "r.json"), home=home)
    assert run.returncode == 0, run.output
    assert meta_records(Path(report(tmp_path / "r.json")["env"]["path"])) == meta_records(Path(solved["env"]["path"]))


def test_unsatisfiable_spec_exits_3_with_the_solvers_reason(conda_model: Path, tmp_path: Path, home: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(conda_model, model)
    spec = yaml.safe_load((model / "conda.yaml").read_text())
    spec["dependencies"][2] = "ef-hello>=2"
    (model / "conda.yaml").write_text(yaml.safe_dump(spec))
    record_digests_again(model)
    run = envforge("verify", str(model), "--backend", "conda", "--json", str(tmp_path / "r.json"), home=home)
    assert run.returncode == 3, run.output
    assert "cannot be satisfied" in run.output and "No candidates were found for ef-hello >=2" in run.output
    result = report(tmp_path / "r.json")
    assert result["status"] == "error" and result["error"]["kind"] == "EnvBuildError"
    assert "ef-hello >=2" in result["error"]["message"]


def test_channel_replaces_the_logged_ones_and_its_credentials_stay_out(conda_model: Path, tmp_path: Path, home: Path) -> None:
    secret_channel = "https://envforge-user:s3cret-token@127.0.0.1:9/conda"  # nothing listens on port 9: a missing channel
    run = envforge("verify", str(conda_model), "--backend", "conda", "--channel", secret_channel,
                   "--json", str(tmp_path / "r.json"), home=home)
    assert run.returncode == 3, run.output
    assert "could not be read" in run.output and "https://127.0.0.1:9/conda" in run.output  # the logged channel was replaced
    text = run.output + (tmp_path / "r.json").read_text()
    assert "s3cret-token" not in text and "envforge-user" not in text


def test_channel_override_locks_a_model_logged_for_an_unreachable_channel(conda_model: Path, conda_channel: str,
                                                                           tmp_path: Path, home: Path) -> None:
    """MLflow logs `channels: [conda-forge]`; here (as on an air-gapped machine) only a mirror is reachable."""
    model = tmp_path / "model"
    shutil.copytree(conda_model, model)
    spec = yaml.safe_load((model / "conda.yaml").read_text())
    (model / "conda.yaml").write_text(yaml.safe_dump({**spec, "channels": ["conda-forge"]}))
    assert envforge("lock", str(model), "--backend", "conda", "-o", str(tmp_path / "x.yml"), home=home).returncode == 3
    run = envforge("lock", str(model), "--backend", "conda", "--channel", conda_channel, "-o", str(tmp_path / "lock.yml"), home=home)
    assert run.returncode == 0, run.output
    data = yaml.safe_load((tmp_path / "lock.yml").read_text())
    assert [c["url"] for c in data["metadata"]["channels"]] == [conda_channel]
    assert all(p["url"].startswith(conda_channel + "/") for p in data["package"] if p["manager"] == "conda")


def test_a_pip_file_that_does_not_match_its_locked_hash_is_refused(conda_model: Path, solved: dict, tmp_path: Path, home: Path) -> None:
    lock = yaml.safe_load((Path(solved["env"]["path"]) / "conda-lock.yml").read_text())
    victim = next(p for p in lock["package"] if p["manager"] == "pip" and p["name"] == "cloudpickle")
    victim["hash"]["sha256"] = "0" * 64
    tampered = tmp_path / "tampered.yml"
    tampered.write_text(yaml.safe_dump(lock, sort_keys=False))
    run = envforge("verify", str(conda_model), "--backend", "conda", "--lockfile", str(tampered), "--json", str(tmp_path / "r.json"), home=home)
    assert run.returncode == 3, run.output
    assert "hash" in run.output.lower() and "cloudpickle" in run.output
    assert json.loads((tmp_path / "r.json").read_text())["results"][0]["env"]["path"] is None  # nothing half-built is kept


def test_a_file_deleted_from_a_built_conda_env_is_rebuilt_and_the_report_says_why(conda_model: Path, solved: dict,
                                                                                   tmp_path: Path) -> None:
    """Issue 29 under conda (last in this file: it rebuilds the module's env): the pip-installed part of a conda env
    has its installer's RECORD, so a file it lost is found on reuse and the env rebuilt, never blamed on the model."""
    env = Path(solved["env"]["path"])
    [victim] = env.glob("lib/python3.*/site-packages/cloudpickle/__init__.py")
    victim.unlink()  # before issue 29: the model failed to load (No module named cloudpickle), exit 1
    run = envforge("verify", str(conda_model), "--backend", "conda", "--json", str(tmp_path / "r.json"), home=solved["home"])
    assert_rebuilt_for_a_missing_file(run.returncode, report(tmp_path / "r.json"), run.output, env, victim, "cloudpickle/__init__.py")
