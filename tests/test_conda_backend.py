"""The conda backend's parts that need no channel: specs, channels, the lock format, wheel choice.

py-rattler is never imported in this process (its runtime may crash at interpreter exit; envforge
runs it in a worker process): the one py-rattler test here goes through that worker.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from envforge.backends.base import BuildOptions
from envforge.backends.conda import external, lockformat, pip_lock
from envforge.backends.conda.channels import effective, public_url, scrub
from envforge.backends.conda.link import solve_and_link
from envforge.backends.conda.lock import conda_specs, offline_check
from envforge.backends.conda.pip_lock import PipPackage
from envforge.backends.conda.records import CondaPackage, dependency_map
from envforge.backends.conda.specialize import conda_spec
from envforge.errors import EnvBuildError, ModelDirError, UsageError
from envforge.spec import load_spec
from tests.support.corpus import CORPUS

MLMODEL = "flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n    python_version: 3.9.4\nmlflow_version: 2.9.0\n"
CONDA_YAML = """\
channels: [conda-forge]
dependencies:
- python=3.9.4
- pip<=23
- conda-forge::libgomp
- pip:
  - mlflow==2.9.0
  - scikit-learn==1.3.0
"""


def _model(tmp_path: Path, conda_yaml: str = CONDA_YAML) -> Path:
    model = tmp_path / "model"
    model.mkdir(parents=True)
    (model / "MLmodel").write_text(MLMODEL)
    (model / "conda.yaml").write_text(conda_yaml)
    (model / "python_env.yaml").write_text("python: 3.9.4\ndependencies:\n- -r requirements.txt\n")
    (model / "requirements.txt").write_text("mlflow==2.9.0\n")
    return model


def test_conda_backend_reads_conda_yaml_even_next_to_python_env_yaml(tmp_path: Path) -> None:
    model = _model(tmp_path)
    spec = load_spec(model, backend="conda")
    assert spec.conda_dependencies == ("python=3.9.4", "pip<=23", "conda-forge::libgomp")
    assert spec.requirements == ("mlflow==2.9.0", "scikit-learn==1.3.0")
    assert spec.conda_channels == ("conda-forge",)
    assert not any("not installed by pip-based backends" in n for n in spec.notes)
    assert load_spec(model, backend="uv").requirements == ("mlflow==2.9.0",)  # the others keep python_env.yaml
    assert load_spec(model, backend="uv").conda_channels == ()


def test_channels_and_locks_are_part_of_the_key(tmp_path: Path) -> None:
    model = _model(tmp_path)
    base = load_spec(model, backend="conda")
    same = conda_spec(base, model, BuildOptions())
    assert same.key == base.key
    mirror = conda_spec(base, model, BuildOptions(channels=("https://user:tok1@mirror.example/conda-forge",)))
    rotated = conda_spec(base, model, BuildOptions(channels=("https://user:tok2@mirror.example/conda-forge",)))
    assert mirror.key != base.key and mirror.key == rotated.key  # credentials never derive the key
    assert mirror.conda_channels == ("https://user:tok1@mirror.example/conda-forge",)
    assert "tok1" not in str(mirror.to_dict()) and any("replace the logged ones" in n for n in mirror.notes)
    tokened = conda_spec(base, model, BuildOptions(channels=("https://conda.example/t/tk-42-secret/private",)))
    assert "tk-42-secret" not in str(tokened.to_dict()) + " ".join(tokened.notes)
    lock = tmp_path / "conda-lock.yml"
    lock.write_text("version: 1\n")
    first = conda_spec(base, model, BuildOptions(lockfile=str(lock)))
    lock.write_text("version: 1\n# another lock\n")
    assert first.key != base.key and conda_spec(base, model, BuildOptions(lockfile=str(lock))).key != first.key
    shutil.copyfile(lock, model / "conda-lock.yml")  # a lock stored with the model is found by itself
    assert dict(conda_spec(base, model, BuildOptions()).file_hashes)["./conda-lock.yml"]
    with pytest.raises(UsageError, match="no such file"):
        conda_spec(base, model, BuildOptions(lockfile=str(tmp_path / "missing.yml")))


def test_python_is_added_when_conda_yaml_does_not_name_it(tmp_path: Path) -> None:
    model = _model(tmp_path, "channels: [conda-forge]\ndependencies:\n- libgomp\n- pip:\n  - mlflow\n")
    assert conda_specs(load_spec(model, backend="conda")) == ["python=3.9.4", "libgomp"]
    assert conda_specs(load_spec(_model(tmp_path / "b"), backend="conda"))[0] == "python=3.9.4"


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.iterdir() if (p / "conda.yaml").is_file()) if CORPUS.is_dir() else ["missing"])
def test_real_world_conda_yaml_gives_conda_specs_and_channels(tmp_path: Path, name: str) -> None:
    spec = load_spec(shutil.copytree(CORPUS / name, tmp_path / name), backend="conda")
    specs = conda_specs(spec)
    assert specs[0].startswith("python") and spec.conda_channels
    assert any(r.startswith("mlflow") for r in spec.requirements)


def test_channel_urls_lose_their_secrets_but_keep_placeholders() -> None:
    assert public_url("https://alice:pw@host/conda") == "https://host/conda"
    assert public_url("https://${USER}:${TOKEN}@host/conda") == "https://${USER}:${TOKEN}@host/conda"
    assert public_url("https://host/t/tk-123-456/conda") == "https://host/t/<TOKEN>/conda"
    assert public_url("https://host/t/$MY_TOKEN/conda") == "https://host/t/$MY_TOKEN/conda"
    assert "tk-9" not in scrub("could not fetch https://host/t/tk-9/x/noarch/repodata.json")
    assert effective(["defaults", "nodefaults", "conda-forge/", "conda-forge"]) == [
        "https://repo.anaconda.com/pkgs/main", "https://repo.anaconda.com/pkgs/r", "conda-forge"]
    assert effective([]) == ["conda-forge"]


def test_offline_allows_only_local_channels() -> None:
    assert offline_check(["file:///mirror"], BuildOptions(offline=True)) == ["file:///mirror"]
    assert offline_check(["conda-forge"], BuildOptions()) == ["conda-forge"]
    with pytest.raises(EnvBuildError, match="remote"):
        offline_check(["file:///mirror", "conda-forge"], BuildOptions(offline=True))


def test_the_interpreters_preferred_wheel_is_locked() -> None:
    files = ["x-1.0-py3-none-any.whl", "x-1.0-cp37-abi3-manylinux1_x86_64.manylinux_2_28_x86_64.whl",
             "x-1.0-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"]
    package = {"name": "x", "version": "1.0", "sdist": {"url": "https://i/x-1.0.tar.gz", "hashes": {"sha256": "s"}},
               "wheels": [{"url": f"https://i/{f}", "hashes": {"sha256": f"h{i}"}} for i, f in enumerate(files)]}
    assert pip_lock._pick(package, "3.11.7") == PipPackage("x", "1.0", f"https://i/{files[2]}", "h2")
    assert pip_lock._pick(package, "3.12.1").sha256 == "h1"  # no cp312 wheel: abi3 beats pure Python
    assert pip_lock._pick({**package, "wheels": []}, "3.11.7").sha256 == "s"
    assert PipPackage("x", "1.0", "u", "h").requirement() == "x==1.0 --hash=sha256:h"
    with pytest.raises(EnvBuildError, match="cannot be locked"):
        pip_lock._pick({"name": "y", "directory": {"path": "."}}, "3.11.7")


def test_lock_round_trips_through_conda_locks_own_models(tmp_path: Path) -> None:
    model = _model(tmp_path)
    spec = load_spec(model, backend="conda")
    conda = [CondaPackage("python", "3.9.4", "h0_0", "https://u:secret@host/ch/linux-64/python-3.9.4-h0_0.conda", "a" * 32, "b" * 64,
                          "linux-64", ("libgomp >=9",)),
             CondaPackage("libgomp", "13.2.0", "h0", "https://u:secret@host/ch/linux-64/libgomp-13.2.0-h0.conda", "c" * 32, None, "linux-64")]
    pip = [PipPackage("mlflow", "2.9.0", "https://files/mlflow-2.9.0-py3-none-any.whl", "d" * 64),
           PipPackage("private", "1.0", "https://files/private-1.0-py3-none-any.whl", "e" * 64, direct=True)]
    path = tmp_path / "conda-lock.yml"
    lockformat.write(lockformat.build_lockfile(conda, pip, platform="linux-64", channels=["https://u:secret@host/ch"], spec=spec,
                                           specs=conda_specs(spec), sources=["conda.yaml"]), path)
    text = path.read_text()
    assert "secret" not in text and "conda-lock install" in text  # conda-lock's own header
    data = yaml.safe_load(text)
    assert data["version"] == 1 and data["metadata"]["platforms"] == ["linux-64"]
    assert len(data["metadata"]["content_hash"]["linux-64"]) == 64
    back_conda, back_pip, channels = lockformat.read(path, "linux-64")
    assert channels == ["https://host/ch"]
    assert sorted((p.name, p.version, p.build, p.md5, p.sha256, p.depends) for p in back_conda) == sorted(
        (p.name, p.version, p.build, p.md5, p.sha256, p.depends) for p in conda)
    assert sorted(back_pip, key=lambda p: p.name) == pip
    lockformat.validate(path)  # conda-lock's own parser accepts it
    with pytest.raises(ModelDirError, match="no packages for this platform"):
        lockformat.read(path, "osx-arm64")
    no_md5 = yaml.safe_load(text)
    del next(p for p in no_md5["package"] if p["manager"] == "conda")["hash"]["md5"]
    path.write_text(yaml.safe_dump(no_md5))
    with pytest.raises(ModelDirError, match="not a valid conda-lock file"):
        lockformat.validate(path)
    for field, value in (("name", "--index-url=http://evil.example/simple"), ("version", "1.0 -r /etc/passwd")):
        data = yaml.safe_load(text)
        next(p for p in data["package"] if p["manager"] == "pip")[field] = value
        path.write_text(yaml.safe_dump(data))  # a lock from a model dir is untrusted: it must not smuggle in options
        with pytest.raises(ModelDirError, match="malformed pip entry"):
            lockformat.read(path, "linux-64")


def test_external_solvers_dry_run_json_is_read() -> None:
    """conda/mamba/micromamba cannot be installed here: their documented `create --dry-run --json` output is canned."""
    conda_json = {"success": True, "dry_run": True, "actions": {
        "FETCH": [{"name": "zlib", "url": "https://c/linux-64/zlib-1.3-h0.conda", "md5": "m1", "sha256": "s1"}],
        "LINK": [{"name": "zlib", "version": "1.3", "build_string": "h0", "platform": "linux-64", "channel": "conda-forge"},
                 {"name": "python", "version": "3.11.7", "build_string": "h1", "platform": "linux-64"}]}}
    micromamba_json = {"success": True, "actions": {"LINK": [
        {"name": "zlib", "version": "1.3", "build": "h0", "url": "https://c/linux-64/zlib-1.3-h0.conda", "md5": "m1", "subdir": "linux-64"}]}}
    packages = external.packages(conda_json)
    assert [(p.name, p.version, p.build, p.md5) for p in packages] == [("zlib", "1.3", "h0", "m1"), ("python", "3.11.7", "h1", "")]
    assert packages[0].file_name == "zlib-1.3-h0.conda" and packages[1].url == ""
    assert external.packages(micromamba_json)[0] == packages[0].__class__(
        "zlib", "1.3", "h0", "https://c/linux-64/zlib-1.3-h0.conda", "m1", None, "linux-64")
    with pytest.raises(EnvBuildError):
        external.packages({"actions": {}})
    with pytest.raises(UsageError, match="not an executable"):
        external.solve(str(Path("/nonexistent/conda")), ["conda-forge"], ["python"], timeout=10)


def test_conda_dependency_lists_become_conda_locks_mapping() -> None:
    assert dependency_map(("python >=3.11,<3.12", "libzlib", "openssl >=3.1 *_0")) == {
        "python": ">=3.11,<3.12", "libzlib": "", "openssl": ">=3.1 *_0"}


def test_a_missing_channel_is_an_env_build_error_from_the_worker(tmp_path: Path) -> None:
    with pytest.raises(EnvBuildError, match="could not be read") as raised:
        solve_and_link([(tmp_path / "no-channel").as_uri()], ["python"], None, timeout=60)
    assert "repodata" in raised.value.message and raised.value.exit_code == 3
