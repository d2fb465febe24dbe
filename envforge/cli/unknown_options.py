"""An option the command does not have: one paragraph naming it, the command, and the closest option it has.

argparse's own answer prints the top-level usage (`envforge [-h] [--version] COMMAND ...`) and `unrecognized
arguments: --rtoll`, with no hint; `verify --rtoll 1e-4` now says `did you mean --rtol?` and where to look."""

from __future__ import annotations

import argparse
import difflib
import sys

from envforge.errors import UsageError


def parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    words = list(sys.argv[1:] if argv is None else argv)
    args, extras = parser.parse_known_args(words)
    if extras:
        raise unknown(parser, words, extras)
    return args


def _subparser(parser: argparse.ArgumentParser, words: list[str]) -> tuple[argparse.ArgumentParser, list[str]]:
    """The (sub)command `words` name, followed down (`cache list`), and its words."""
    names: list[str] = []
    for word in words:
        if word.startswith("-"):
            continue
        # argparse keeps the subcommands only on its private action list
        found = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction) and word in a.choices]
        if not found:
            break
        parser = found[0].choices[word]
        names.append(word)
    return parser, names


def unknown(parser: argparse.ArgumentParser, words: list[str], extras: list[str]) -> UsageError:
    target, names = _subparser(parser, words)
    name = " ".join(["envforge", *names])
    options = [o for o in target._option_string_actions if o.startswith("--")]
    first = next((e for e in extras if e.startswith("-")), None)
    if first is None:
        return UsageError(f"unexpected argument(s) for `{name}`: {' '.join(extras)}.",
                          f"Remove them, or quote a value that contains spaces; see `{name} --help`.")
    given = first.split("=", 1)[0]
    close = difflib.get_close_matches(given, options, n=1, cutoff=0.6)
    hint = f" did you mean {close[0]}?" if close else ""
    remedy = f"Use {close[0]}; `{name} --help` lists every option." if close else f"`{name} --help` lists every option."
    return UsageError(f"unknown option {given} for `{name}`;{hint}" if close else f"unknown option {given} for `{name}`.", remedy)
