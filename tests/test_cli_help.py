"""The CLI's own words (issue 14): the top-level help lists the registry's backends, the README's options exist,
the gate example is honest, and an UNVERIFIED verdict names the flag that makes it fail."""

from __future__ import annotations

import argparse
import io
import re
from pathlib import Path

import pytest
from rich.console import Console

from envforge.cli import build_parser
from envforge.errors import UsageError
from envforge.report.console import print_result
from envforge.result import UNVERIFIED, VerifyResult
from envforge.spec.backend_catalog import NAMES

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_top_level_help_lists_every_backend_of_the_registry() -> None:
    text = " ".join(build_parser().format_help().split())
    assert f"({', '.join(NAMES[:-1])} or {NAMES[-1]})" in text


def test_verify_takes_no_stored_lock_as_the_readme_says() -> None:
    assert "--no-stored-lock" in (README.parent / "docs" / "reference.md").read_text()  # the README's CLI reference moved there
    args = build_parser().parse_args(["verify", "models:/m/1", "--no-stored-lock"])
    assert args.no_stored_lock is True


def test_the_readme_gate_example_requires_expectations() -> None:
    gate = next(line for line in README.read_text().splitlines() if "gate:" in line)
    assert re.search(r"`envforge verify \S+ --require-expected`", gate), gate


def test_an_unverified_verdict_that_exits_0_names_require_expected() -> None:
    result = VerifyResult(uri="models:/m/1", backend="uv").finish(UNVERIFIED, "predictions ran, but no expectations were recorded")
    out = io.StringIO()
    print_result(Console(file=out, width=300), result)
    assert "UNVERIFIED models:/m/1" in out.getvalue() and "--require-expected" in out.getvalue()
    strict = VerifyResult(uri="models:/m/1", backend="uv").finish(UNVERIFIED, "no expectations", 1)
    out = io.StringIO()
    print_result(Console(file=out, width=300), strict)
    assert "--require-expected" not in out.getvalue()  # it already fails: nothing to suggest


def _all_parsers(parser: argparse.ArgumentParser, name: str = "envforge") -> list[tuple[str, argparse.ArgumentParser]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                found += [(f"{name} {sub_name}", sub), *_all_parsers(sub, f"{name} {sub_name}")]
    return found


def test_every_command_has_examples_a_description_quiet_and_verbose() -> None:
    parsers = _all_parsers(build_parser())
    assert len(parsers) >= 16
    for name, parser in parsers:
        text = parser.format_help()
        assert "\nExamples:\n  envforge " in text, name
        assert parser.description, name  # inspect had none
        assert "-q, --quiet" in text and "-v, --verbose" in text, name


def test_mlflow_spellings_are_aliases() -> None:
    from envforge.cli.conventions import settle_uri

    args = build_parser().parse_args(["verify", "-m", "models:/iris/1", "--env-manager", "virtualenv"])
    settle_uri(args)
    assert args.uri == "models:/iris/1" and args.backend == "virtualenv"
    both = build_parser().parse_args(["serve-check", "models:/a/1", "-m", "models:/b/1"])
    with pytest.raises(UsageError, match="Two model URIs"):
        settle_uri(both)
    with pytest.raises(UsageError, match="needs a model URI"):
        settle_uri(build_parser().parse_args(["lock"]))


def test_renamed_options_keep_their_old_spelling() -> None:
    parser = build_parser()
    assert parser.parse_args(["record", "m", "--store-lock"]).lock is parser.parse_args(["record", "m", "--lock"]).lock is True
    assert parser.parse_args(["shell", "m", "--repl"]).repl is parser.parse_args(["shell", "m", "--python"]).repl is True
