"""The limits of envforge/bounds/limits.py and the bounded readers behind them (issue 17), in-process and fast;
tests/test_fuzz_shapes.py drives the same through the CLI and measures its cost."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envforge.bounds import limits
from envforge.bounds.parsing import json_depth, load_json, load_yaml
from envforge.errors import EXIT_FAILED, EXIT_USAGE, ModelDirError, ModelRunError, UsageError
from envforge.execution.executor import read_answer
from envforge.processes.proc import run
from envforge.redact import redact
from envforge.spec.envlock import read_lock


def test_over_a_limit_names_the_file_the_figure_the_limit_and_the_variable(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_bytes(b"a" * (limits.TEXT_BYTES.default + 10))
    with pytest.raises(ModelDirError) as caught:
        limits.read_bounded(path, "text", where="requirements.txt")
    assert caught.value.exit_code == EXIT_USAGE
    text = caught.value.paragraph()
    assert text.startswith("requirements.txt: 4,194,314 bytes in a requirements") and "envforge's limit is 4,194,304 bytes" in text
    path.write_bytes(b"a" * (6 * limits.MB))
    with pytest.raises(ModelDirError, match="6.0 MB in a requirements.*limit is 4.0 MB"):
        limits.read_bounded(path, "text", where="requirements.txt")
    assert "ENVFORGE_MAX_TEXT_BYTES=N" in text


def test_a_variable_raises_a_limit_and_a_bad_value_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "x.txt"
    path.write_text("x" * 100)
    monkeypatch.setenv("ENVFORGE_MAX_TEXT_BYTES", "50")
    with pytest.raises(ModelDirError, match="100 bytes"):
        limits.read_bounded(path, "text")
    monkeypatch.setenv("ENVFORGE_MAX_TEXT_BYTES", "1_000")
    assert limits.read_bounded(path, "text") == "x" * 100
    monkeypatch.setenv("ENVFORGE_MAX_TEXT_BYTES", "lots")
    with pytest.raises(UsageError, match="ENVFORGE_MAX_TEXT_BYTES='lots' is not a whole number"):
        limits.read_bounded(path, "text")


def test_every_limit_has_its_own_variable_and_is_in_the_docs() -> None:
    variables = [limit.variable for limit in limits.ALL]
    assert len(set(variables)) == len(variables)
    doc = (Path(__file__).resolve().parents[1] / "docs" / "limits.md").read_text()
    missing = [v for v in variables if v not in doc]
    assert not missing, f"docs/limits.md does not name {missing}"


def test_json_too_deep_or_too_dense_is_refused_before_it_costs() -> None:
    with pytest.raises(ModelDirError, match="levels of JSON nesting"):
        load_json("[" * 100_000 + "]" * 100_000, "x.json")  # json.loads alone: RecursionError
    with pytest.raises(ModelDirError, match="at least 101 levels of JSON nesting"):
        load_json("[" * 101 + "]" * 101, "x.json")
    assert load_json("[" * 100 + "]" * 100, "x.json") is not None
    with pytest.raises(ModelDirError, match="values of JSON"):
        load_json("[" + "{}," * 3_000_000 + "{}]", "x.json")
    assert json_depth({"a": [[1], {"b": []}]}, 100) == 4


def test_yaml_depth_aliases_and_self_reference(tmp_path: Path) -> None:
    with pytest.raises(ModelDirError, match="levels of YAML nesting"):
        load_yaml("a: " + "[" * 500 + "]" * 500, "MLmodel")
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8))
    with pytest.raises(ModelDirError, match=r"values of YAML \(aliases expanded\)"):
        load_yaml(laughs, "MLmodel")
    with pytest.raises(ModelDirError, match="refers to a node that contains it"):
        load_yaml("a: &x [1, *x]\n", "MLmodel")
    assert load_yaml("a: &x [1, 2]\nb: *x\n", "MLmodel") == {"a": [1, 2], "b": [1, 2]}


def test_a_lock_of_too_many_lines_is_refused(tmp_path: Path) -> None:
    lock = tmp_path / "envforge-lock.txt"
    lock.write_text("numpy==1.26.4 --hash=sha256:00\n" * 10_001)
    with pytest.raises(ModelDirError, match="10,001 lines of requirements") as caught:
        read_lock(lock)
    assert "envforge lock" in caught.value.remedy and "ENVFORGE_MAX_REQUIREMENT_LINES" in caught.value.remedy


def test_the_runners_answer_over_the_limit_is_a_model_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = tmp_path / "result.json"
    result.write_text(json.dumps({"examples": [{"name": "e", "ok": True, "prediction": list(range(1000))}]}))
    assert read_answer(result)["examples"][0]["ok"] is True
    monkeypatch.setenv("ENVFORGE_MAX_JSON_BYTES", "1000")
    with pytest.raises(ModelRunError, match="the model's answer") as caught:
        read_answer(result)
    assert caught.value.exit_code == EXIT_FAILED and "ENVFORGE_MAX_JSON_BYTES" in caught.value.remedy
    result.write_text("[" * 5000 + "]" * 5000)
    monkeypatch.delenv("ENVFORGE_MAX_JSON_BYTES")
    with pytest.raises(ModelRunError, match="levels of JSON nesting"):
        read_answer(result)
    assert read_answer(tmp_path / "none.json") is None


def test_a_child_printing_megabytes_is_held_as_its_head_and_tail() -> None:
    code = "import sys\nsys.stdout.write('START\\n' + 'y' * (40 << 20) + '\\nEND\\n')\nsys.stderr.write('e' * (5 << 20))"
    outcome = run([sys.executable, "-c", code], timeout=120, keep=1 << 20)
    assert outcome.ok
    assert len(outcome.stdout) < 1.1 * (1 << 20) and len(outcome.stderr) < 1.1 * (1 << 20)
    assert outcome.stdout.startswith("START") and outcome.stdout.rstrip().endswith("END")
    assert re.search(r"envforge cut [\d,]+ bytes of output here", outcome.stdout)
    small = run([sys.executable, "-c", "print('hello')"], timeout=60, keep=1 << 20)
    assert small.stdout == "hello\n"


OLD_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s:]*(:[^/@\s]*)?)@")
OLD_PATH_TOKEN = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://\S*?/t/)[A-Za-z0-9_-]+(?=/)")
OLD_TOKEN_PARAM = re.compile(r"(?i)(?P<key>[?&](?:token|access_token|api_key|apikey|password|sig|signature)=)[^&\s]+")


def _old_redact(text: str) -> str:
    """redact() as it was before issue 17: quadratic on a long word, the reference for what it removes."""
    text = OLD_USERINFO.sub(lambda m: f"{m.group('scheme')}***@", text)
    text = OLD_PATH_TOKEN.sub(lambda m: f"{m.group('head')}***", text)
    return OLD_TOKEN_PARAM.sub(lambda m: f"{m.group('key')}***", text)


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from([*"ab1+.-:/@?&= t_T$", "://", "/t/", "token=", "https://", "u:p@", "9x://", "/t/a/"]),
                max_size=30).map("".join))
def test_redact_removes_exactly_what_it_did_before(text: str) -> None:
    assert redact(text) == _old_redact(text)


def test_redact_is_linear_on_a_long_word() -> None:
    """Not a timing assertion: the old regexes on these take minutes; the new ones return at all."""
    for word in ("a" * 3_000_000, "a://" * 500_000, "a://b/t/" * 200_000):
        assert redact(word) == word


def test_a_conda_lock_too_large_or_too_deep_is_refused(tmp_path: Path) -> None:
    from envforge.backends.conda import lockformat

    lock = tmp_path / "conda-lock.yml"
    lock.write_text("version: 1\nmetadata: {}\npackage: " + "[" * 300 + "]" * 300 + "\n")
    with pytest.raises(ModelDirError, match="levels of YAML nesting"):
        lockformat.read(lock, "linux-64")
    with lock.open("w") as handle:
        handle.write("version: 1\nmetadata: {}\npackage: []\nx: '" + "a" * (limits.CONDA_LOCK_BYTES.default + 1) + "'\n")
    with pytest.raises(ModelDirError, match=r"bytes in a conda lock file.*limit is 33,554,432 bytes") as caught:
        lockformat.read(lock, "linux-64")
    assert "ENVFORGE_MAX_CONDA_LOCK_BYTES=N" in caught.value.remedy
