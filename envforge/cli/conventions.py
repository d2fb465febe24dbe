"""What every subcommand's --help has, applied once to the whole command table: an Examples section,
`-q/--quiet` and `-v/--verbose`; and the settling of `-m/--model-uri` (MLflow's spelling) with the positional URI.

Kept out of the command modules so that each of them stays parsing of its own options only, and a
command added later gets the same conventions (tests/test_cli_help.py checks every one has examples).
"""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from envforge.errors import UsageError

EXAMPLES: dict[str, str] = {
    "verify": """\
  envforge verify models:/fraud@candidate --require-expected       # a deployment gate: exit 0 only if it passed
  envforge verify runs:/0a1b2c/model --tracking-uri http://mlflow:5000 --json report.json --junit report.xml
  envforge verify ./model --backend virtualenv --resolve latest      # does it still work with today's packages?
  envforge verify -m models:/iris/1 --env-manager conda              # MLflow's spellings""",
    "record": """\
  envforge record runs:/0a1b2c/model --tracking-uri http://mlflow:5000   # in the training env, right after logging
  envforge record models:/fraud/3 --resolve logged                       # a baseline from the as-logged rebuild
  envforge record ./model --store-lock                                   # also store the rebuilt env's exact lock""",
    "inspect": """\
  envforge inspect models:/iris/1 --tracking-uri http://mlflow:5000
  envforge inspect ./model --json | jq .requirements""",
    "quickstart": """\
  envforge quickstart
  envforge quickstart --dir /tmp/envforge-demo""",
    "shell": """\
  envforge shell models:/iris/1               # a shell in the rebuilt env, $MODEL_DIR set
  envforge shell models:/iris/1 --repl        # the env's Python REPL""",
    "run": """\
  envforge run models:/iris/1 -- python -c 'import sklearn; print(sklearn.__version__)'
  envforge run --backend virtualenv ./model -- pip list""",
    "diff": """\
  envforge diff models:/iris/1                 # the packages that differ, then a verdict
  envforge diff models:/iris/1 --all --json    # every package, as JSON""",
    "serve-check": """\
  envforge serve-check models:/iris/1 --tracking-uri http://mlflow:5000
  envforge serve-check ./model --json serve.json --junit serve.xml""",
    "lock": """\
  envforge lock models:/iris/1 -o requirements.lock && envforge verify models:/iris/1 --lock requirements.lock
  envforge lock ./model --backend conda -o conda-lock.yml""",
    "bisect": """\
  envforge bisect models:/fraud/3                          # logged -> today: which release broke it?
  envforge bisect ./model --from 2024-01-01 --to latest --json bisect.json""",
    "cache": """\
  envforge cache list
  envforge cache prune --older-than 14d --max-size 20G""",
    "cache list": """\
  envforge cache list
  envforge cache list --json""",
    "cache prune": """\
  envforge cache prune --older-than 14d
  envforge cache prune --max-size 20G --dry-run""",
    "verify-registry": """\
  envforge verify-registry --tracking-uri http://mlflow:5000 --aliases champion,candidate --junit nightly.xml
  envforge verify-registry --models 'fraud-*' --latest 2 --resolve logged,latest --html nightly.html
  envforge verify-registry --dry-run                      # the plan: environments and their models""",
    "status": """\
  envforge status models:/fraud@candidate --tracking-uri http://mlflow:5000 && deploy""",
    "dockerfile": """\
  envforge dockerfile models:/iris/1 -o iris-image && docker build -t iris iris-image""",
    "check-attestation": """\
  envforge verify models:/fraud@candidate --require-expected --attest verdict.intoto.json   # the gate
  envforge check-attestation verdict.intoto.json models:/fraud@candidate && deploy          # the deploy step""",
}


def apply(sub: Any, prefix: str = "") -> None:
    """Give every parser under the subparsers action `sub` its examples, -q and -v (recursively: `cache list`)."""
    helps = {action.dest: action.help for action in sub._choices_actions}
    for name, parser in sub.choices.items():
        full = f"{prefix}{name}"
        if not parser.description and helps.get(name):  # the one-line help, at least
            parser.description = str(helps[name])[:1].upper() + str(helps[name])[1:] + "."
        if full in EXAMPLES:
            parser.epilog = "Examples:\n" + EXAMPLES[full]
            parser.formatter_class = argparse.RawDescriptionHelpFormatter
            if parser.description:  # raw from now on: wrap it here
                parser.description = textwrap.fill(" ".join(parser.description.split()), 100)
        if "--quiet" not in parser._option_string_actions:
            parser.add_argument("-q", "--quiet", action="store_true", help="print only the verdict or result (no progress)")
        if "--verbose" not in parser._option_string_actions:
            parser.add_argument("-v", "--verbose", action="store_true", help="also show MLflow's own log lines (INFO)")
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                apply(action, prefix=f"{full} ")


def settle_uri(args: argparse.Namespace) -> None:
    """`-m/--model-uri URI` (as `mlflow models predict -m`) or the positional URI: exactly one of them."""
    if not hasattr(args, "model_uri"):
        return
    if args.model_uri and args.uri and args.model_uri != args.uri:
        raise UsageError(f"Two model URIs given: {args.uri} and -m {args.model_uri}.", "Pass the URI once, positional or with -m.")
    args.uri = args.uri or args.model_uri
    if not args.uri:
        raise UsageError(f"envforge {args.command} needs a model URI.", f"Pass it as `envforge {args.command} URI` or with -m URI.")
