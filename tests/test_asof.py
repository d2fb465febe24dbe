"""--resolve: parsing, the logged moment, what joins the env key, bad values (envforge.spec.asof)."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from envforge.backends import get_backend
from envforge.backends.base import BuildOptions
from envforge.commands.bisect import _pin
from envforge.errors import UsageError
from envforge.spec import load_spec
from envforge.spec.asof import as_of_for, check_option, resolve_as_of
from envforge.spec.mlmodel import read_mlmodel
from tests.support.cli import envforge
from tests.support.corpus import CORPUS
from tests.support.corpus import MISSING as CORPUS_MISSING

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def test_logged_is_the_end_of_the_day_the_model_was_logged() -> None:
    as_of, warnings = resolve_as_of(None, "2022-07-07 08:10:54.535647", now=NOW)
    assert (as_of.mode, as_of.moment, as_of.explicit, warnings) == ("logged", "2022-07-07T23:59:59Z", False, [])
    assert "the default" in as_of.why and "2022-07-07 08:10" in as_of.why
    explicit, _ = resolve_as_of("logged", "2022-07-07 08:10:54", now=NOW)
    assert explicit.explicit and explicit.moment == "2022-07-07T23:59:59Z"


@pytest.mark.parametrize(("text", "moment"), [("2024-06-15", "2024-06-15T23:59:59Z"), ("2024-06-15T10:30:00Z", "2024-06-15T10:30:00Z"),
                                              ("2024-06-15T10:30", "2024-06-15T10:30:00Z")])
def test_dates_and_times(text: str, moment: str) -> None:
    as_of, _ = resolve_as_of(text, None, now=NOW)
    assert (as_of.mode, as_of.moment, as_of.explicit) == ("date", moment, True)


def test_latest_has_no_moment() -> None:
    as_of, _ = resolve_as_of("latest", "2022-07-07 08:10:54", now=NOW)
    assert as_of.moment is None and as_of.label().startswith("latest")


def test_a_model_without_utc_time_created_warns_and_resolves_latest() -> None:
    as_of, warnings = resolve_as_of(None, None, now=NOW)
    assert as_of.mode == "latest" and as_of.moment is None
    assert len(warnings) == 1 and "no utc_time_created" in warnings[0] and "--resolve YYYY-MM-DD" in warnings[0]


@pytest.mark.parametrize("text", ["2999-01-01", "yesterday", "2024-13-01", "2024-06-15 10:00"])
def test_bad_and_future_values_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        check_option(text)
    assert caught.value.exit_code == 2 and caught.value.remedy and "--resolve" in caught.value.message


def test_docker_refuses_a_date_and_resolves_latest_by_default() -> None:
    mlmodel = type("M", (), {"utc_time_created": "2022-07-07 08:10:54"})()
    with pytest.raises(UsageError, match="docker backend does not resolve as of a date"):
        as_of_for(mlmodel, get_backend("docker"), BuildOptions(resolve="logged"))
    as_of, _ = as_of_for(mlmodel, get_backend("docker"), BuildOptions())
    assert as_of.moment is None


def test_the_moment_is_part_of_the_env_key(sklearn_dir: Path) -> None:
    spec = load_spec(sklearn_dir, "uv", read_mlmodel(sklearn_dir))
    dated = replace(spec, resolved_as_of="2024-03-01T23:59:59Z")
    other = replace(spec, resolved_as_of="2024-03-02T23:59:59Z")
    assert len({spec.key, dated.key, other.key}) == 3
    assert dated.to_dict()["resolved_as_of"] == "2024-03-01T23:59:59Z"


@pytest.fixture
def sklearn_dir(tmp_path: Path) -> Path:
    corpus = CORPUS / "akhil-sklearn-mlf127"
    if not corpus.is_dir():
        pytest.skip(CORPUS_MISSING)
    model = Path(shutil.copytree(corpus, tmp_path / "model"))
    for path in [model, *model.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)
    return model


def test_inspect_shows_the_moment_and_the_key_follows_it(sklearn_dir: Path, tmp_path: Path) -> None:
    default = envforge("inspect", str(sklearn_dir), "--json", home=tmp_path / "home")
    latest = envforge("inspect", str(sklearn_dir), "--json", "--resolve", "latest", home=tmp_path / "home")
    import json

    first, second = json.loads(default.stdout), json.loads(latest.stdout)
    assert first["resolved_as_of"].startswith("2022-07-07T23:59:59Z (the default")
    assert second["resolved_as_of"].startswith("latest") and first["env_key"] != second["env_key"]
    mlmodel = yaml.safe_load((sklearn_dir / "MLmodel").read_text())
    del mlmodel["utc_time_created"]
    (sklearn_dir / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    missing = json.loads(envforge("inspect", str(sklearn_dir), "--json", home=tmp_path / "home").stdout)
    assert missing["resolved_as_of"].startswith("latest") and any("no utc_time_created" in n for n in missing["notes"])


def test_a_future_date_on_the_command_line_exits_2(tmp_path: Path) -> None:
    run = envforge("verify", str(tmp_path), "--resolve", "2999-01-01", home=tmp_path / "home")
    assert run.returncode == 2 and "in the future" in run.output and "Traceback" not in run.output


@pytest.mark.parametrize(("old", "new", "pin"), [("1.26.4", "2.0.0", "numpy<2"), ("80.9.0", "81.0.0", "numpy<81"),
                                                 ("2.1.4", "2.2.0", "numpy<2.2")])
def test_bisect_suggests_the_pin_below_the_breaking_release(old: str, new: str, pin: str) -> None:
    assert _pin("numpy", old, new) == pin


def test_bisect_refuses_a_future_from_and_a_resolve_option(tmp_path: Path) -> None:
    run = envforge("bisect", str(tmp_path), "--from", "2999-01-01", home=tmp_path / "home")
    assert run.returncode == 2 and "in the future" in run.output and "Traceback" not in run.output
    run = envforge("bisect", str(tmp_path), "--resolve", "latest", home=tmp_path / "home")
    assert run.returncode == 2 and "--from and --to" in run.output


def test_bisect_from_lock_needs_a_stored_lock(sklearn_dir: Path, tmp_path: Path) -> None:
    run = envforge("bisect", str(sklearn_dir), "--from", "lock", home=tmp_path / "home")
    assert run.returncode == 2 and "no lock is stored with this model" in run.output and "record URI --lock" in run.output


def test_a_locks_pins_are_read_with_canonical_names() -> None:
    from envforge.commands.bisect import _locked_set

    assert _locked_set(("NumPy==1.26.4 --hash=sha256:ab", "scikit_learn[alldeps]==1.3.0 --hash=sha256:cd", "./code/x.whl")) == {
        "numpy": "1.26.4", "scikit-learn": "1.3.0"}
