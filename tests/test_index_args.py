"""Index settings: the model's requirement-file options, the user's overrides, offline mode,
translated for uv and pip by one function; and how they feed the env's key."""

from __future__ import annotations

from pathlib import Path

import pytest

from envforge.backends.base import BuildOptions
from envforge.backends.failure import summarize
from envforge.backends.index import index_args, index_overrides, installer_env
from envforge.errors import ModelDirError
from envforge.processes.proc import Outcome
from envforge.spec import load_spec

MLMODEL = "flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n    python_version: 3.11.7\n"
NO_ENV: dict[str, str] = {}


def _spec(tmp_path: Path, requirements: str):
    model = tmp_path / "model"
    model.mkdir(exist_ok=True)
    (model / "MLmodel").write_text(MLMODEL)
    (model / "requirements.txt").write_text("mlflow\n" + requirements)
    return load_spec(model), model


def test_model_options_pass_through_to_pip_unchanged(tmp_path: Path) -> None:
    spec, model = _spec(tmp_path, "--index-url https://mirror.example/simple\n--extra-index-url https://x.example/simple\n"
                                  "--trusted-host x.example\n--pre\n--prefer-binary\n")
    assert index_args(spec, BuildOptions(), "pip", model_dir=model, environ=NO_ENV) == [
        "--index-url", "https://mirror.example/simple", "--extra-index-url", "https://x.example/simple",
        "--trusted-host", "x.example", "--pre", "--prefer-binary"]


def test_uv_spelling_of_trusted_host_and_pre(tmp_path: Path) -> None:
    spec, model = _spec(tmp_path, "--trusted-host x.example\n--pre\n--prefer-binary\n")
    args = index_args(spec, BuildOptions(), "uv", model_dir=model, environ=NO_ENV)
    assert args == ["--allow-insecure-host", "x.example", "--prerelease", "allow"]
    assert "--trusted-host" not in args and "--pre" not in args and "--prefer-binary" not in args


def test_user_index_url_replaces_the_models_and_extras_come_first(tmp_path: Path) -> None:
    spec, model = _spec(tmp_path, "-i https://old.example/simple\n--extra-index-url https://model.example/simple\n")
    options = BuildOptions(index_url="https://new.example/simple", extra_index_urls=("https://user.example/simple",))
    args = index_args(spec, options, "uv", model_dir=model, environ=NO_ENV)
    assert "https://old.example/simple" not in args
    assert args[:2] == ["--index-url", "https://new.example/simple"]
    extras = [args[i + 1] for i, a in enumerate(args) if a == "--extra-index-url"]
    assert extras == ["https://user.example/simple", "https://model.example/simple"]


@pytest.mark.parametrize("tool, variable", [("uv", "UV_INDEX_URL"), ("uv", "UV_DEFAULT_INDEX"), ("pip", "PIP_INDEX_URL")])
def test_the_installers_own_index_variable_beats_the_models_index(tmp_path: Path, tool: str, variable: str) -> None:
    spec, model = _spec(tmp_path, "--index-url https://old.example/simple\n")
    assert "--index-url" in index_args(spec, BuildOptions(), tool, model_dir=model, environ=NO_ENV)
    assert "--index-url" not in index_args(spec, BuildOptions(), tool, model_dir=model, environ={variable: "https://corp/simple"})


def test_offline(tmp_path: Path) -> None:
    spec, model = _spec(tmp_path, "--index-url https://mirror.example/simple\n")
    offline = BuildOptions(offline=True, find_links=("https://links.example/wheels",))
    uv = index_args(spec, offline, "uv", model_dir=model, environ=NO_ENV)
    assert uv[-1] == "--offline" and "https://mirror.example/simple" in uv  # uv's cache is per index: keep it
    pip = index_args(spec, offline, "pip", model_dir=model, environ=NO_ENV)
    assert pip == ["--no-index", "--find-links", "https://links.example/wheels"]
    assert installer_env("uv", offline)["UV_OFFLINE"] == "1"
    assert installer_env("pip", offline)["PIP_NO_INDEX"] == "1"


def test_installer_env_passes_the_tools_own_variables_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UV_INDEX_STRATEGY", "unsafe-best-match")
    monkeypatch.setenv("PIP_INDEX_URL", "https://corp.example/simple")
    monkeypatch.setenv("SECRET_THING", "x")
    uv, pip = installer_env("uv", BuildOptions()), installer_env("pip", BuildOptions())
    assert uv["UV_INDEX_STRATEGY"] == "unsafe-best-match" and "PIP_INDEX_URL" not in uv
    assert pip["PIP_INDEX_URL"] == "https://corp.example/simple" and "UV_INDEX_STRATEGY" not in pip
    assert "SECRET_THING" not in uv and "SECRET_THING" not in pip


def test_local_find_links_stay_relative_in_the_spec_and_resolve_for_the_installer(tmp_path: Path) -> None:
    (tmp_path / "model" / "wheels").mkdir(parents=True)
    spec, model = _spec(tmp_path, "--find-links wheels\n")
    assert spec.index_options == ("--find-links", "./wheels")
    user = BuildOptions(find_links=("relative-dir",))
    args = index_args(spec, user, "uv", model_dir=model, environ=NO_ENV)
    assert args == ["--find-links", str(model / "wheels"), "--find-links", str(Path("relative-dir").resolve())]
    with pytest.raises(ValueError, match="model_dir"):
        index_args(spec, BuildOptions(), "uv", environ=NO_ENV)


def test_find_links_archives_feed_the_key_and_the_key_does_not_depend_on_the_location(tmp_path: Path) -> None:
    root = tmp_path / "a" / "model"
    (root / "wheels").mkdir(parents=True)
    (root / "MLmodel").write_text(MLMODEL)
    (root / "requirements.txt").write_text("mlflow\n--find-links ./wheels\n")
    (root / "wheels" / "p-1.0-py3-none-any.whl").write_bytes(b"one")
    before = load_spec(root).key
    moved = tmp_path / "b"
    root.rename(moved)
    assert load_spec(moved).key == before
    (moved / "wheels" / "p-1.0-py3-none-any.whl").write_bytes(b"two")
    assert load_spec(moved).key != before


@pytest.mark.parametrize("line", ["--find-links ../elsewhere", "--find-links file:///etc", "-f /tmp"])
def test_find_links_outside_the_model_are_refused(tmp_path: Path, line: str) -> None:
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(ModelDirError, match="outside the model directory"):
        _spec(tmp_path, line + "\n")


def test_user_overrides_change_the_key_but_credentials_and_offline_do_not(tmp_path: Path) -> None:
    _, model = _spec(tmp_path, "")
    plain = load_spec(model).key
    extra = index_overrides(BuildOptions(extra_index_urls=("https://u:tok1@pkgs.example/simple",)), "uv", NO_ENV)
    rotated = index_overrides(BuildOptions(extra_index_urls=("https://u:tok2@pkgs.example/simple",)), "uv", NO_ENV)
    offline = index_overrides(BuildOptions(offline=True), "uv", NO_ENV)
    assert load_spec(model, index_overrides=extra).key != plain
    assert load_spec(model, index_overrides=extra).key == load_spec(model, index_overrides=rotated).key
    assert load_spec(model, index_overrides=offline).key == plain
    assert "tok1" not in str(load_spec(model, index_overrides=extra).to_dict())


def test_installer_variables_feed_the_key_of_their_backend_only() -> None:
    environ = {"UV_CONSTRAINT": "/c.txt", "PIP_FIND_LINKS": "/opt/w", "UV_OFFLINE": "1"}
    assert index_overrides(BuildOptions(), "uv", environ) == ("UV_CONSTRAINT=/c.txt",)
    assert index_overrides(BuildOptions(), "virtualenv", environ) == ("PIP_FIND_LINKS=/opt/w",)


def test_the_model_index_credentials_do_not_feed_the_key(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first, _ = _spec(tmp_path / "one", "--extra-index-url https://u:a@h/simple\n")
    second, _ = _spec(tmp_path / "two", "--extra-index-url https://u:b@h/simple\n")
    assert first.key == second.key


def _failed(stderr: str) -> Outcome:
    return Outcome(("uv", "pip", "install"), 1, "", stderr, 1.0)


def test_installer_failures_get_a_specific_headline() -> None:
    resolve = _failed("Using Python 3.9.18\nerror: No solution found when resolving dependencies\n"
                      "  cause: Because zzz was not found in the cache and you require zzz==9, we can conclude that ...\n\nhint: net")
    assert summarize(resolve)[0] == ("No solution found when resolving dependencies: Because zzz was not found in the cache "
                                     "and you require zzz==9, we can conclude that ...")
    build = _failed("   Building scikit-learn==0.23.2\nerror: Failed to download and build `scikit-learn==0.23.2`\n"
                    "  cause: Failed to install requirements from `build-system.requires`\n" + "  log\n" * 60)
    headline, excerpt = summarize(build)
    assert headline.startswith("Failed to download and build `scikit-learn==0.23.2` (no wheel of scikit-learn==0.23.2 fits")
    assert excerpt.splitlines()[1].endswith("build-system.requires`") and len(excerpt.splitlines()) == 25
    pip = _failed("ERROR: Could not find a version that satisfies the requirement zzz==9\nERROR: No matching distribution found for zzz==9\n")
    assert summarize(pip)[0] == "No matching distribution found for zzz==9"
    network = _failed("error: Request failed after 3 retries in 9.3s\n  cause: Failed to fetch: http://127.0.0.1:9/simple/zzz/\n")
    assert summarize(network)[0] == "Request failed after 3 retries in 9.3s: Failed to fetch: http://127.0.0.1:9/simple/zzz/"
    assert summarize(_failed("Killed\n"))[0] is None


def test_a_changed_wheel_in_a_users_find_links_directory_changes_the_key(tmp_path: Path) -> None:
    _, model = _spec(tmp_path, "")
    links = tmp_path / "links"
    links.mkdir()
    (links / "p-1.0-py3-none-any.whl").write_bytes(b"one")
    options = BuildOptions(find_links=(str(links),))
    before = load_spec(model, index_overrides=index_overrides(options, "uv", NO_ENV)).key
    assert load_spec(model, index_overrides=index_overrides(options, "uv", NO_ENV)).key == before
    (links / "p-1.0-py3-none-any.whl").write_bytes(b"other")
    assert load_spec(model, index_overrides=index_overrides(options, "uv", NO_ENV)).key != before


def test_a_lock_another_uv_process_held_is_not_blamed_on_the_source_build() -> None:
    """uv's own output, as it printed it when a parallel job on the machine was building the same sdist
    (a verify of the corpus's talha model): the headline must name the lock, not a failed source build."""
    lock = "/root/.cache/uv/sdists-v11/pypi/scikit-learn/0.23.2"
    waited = _failed("error: Failed to download and build `scikit-learn==0.23.2`\n"
                     "  cause: Failed to acquire lock on the distribution cache\n  cause: Could not acquire lock\n"
                     f"  cause: Timeout (300s) when waiting for lock on `{lock}` at `{lock}/.lock`, is another uv process "
                     "running? You can set `UV_LOCK_TIMEOUT` to increase the timeout.\n")
    headline = summarize(waited)[0]
    assert headline is not None and f"uv gave up after 300 s waiting for the lock on {lock}" in headline
    assert "UV_LOCK_TIMEOUT" in headline and "UV_CACHE_DIR" in headline and "built it from source" not in headline
