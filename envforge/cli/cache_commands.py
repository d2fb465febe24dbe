"""`envforge cache list` and `envforge cache prune`: parsing, units and printing; the work is in envforge.building.prune."""

from __future__ import annotations

import argparse
import json
import re
import time
from typing import Any

from envforge.building.prune import list_envs, prune
from envforge.cli.output import escape
from envforge.errors import UsageError
from envforge.store.layout import envs_dir

_DURATION = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_SIZE = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def add_parsers(sub: Any) -> None:
    cache = sub.add_parser("cache", help="list or prune the cached environments")
    actions = cache.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="key, backend, python, size, last use and models of each cached env")
    listing.add_argument("--json", action="store_true", help="print JSON")
    prune = actions.add_parser("prune", help="remove cached envs (never one another envforge process is using)")
    prune.add_argument("--older-than", metavar="AGE", help="remove envs unused for longer than AGE (e.g. 14d, 12h)")
    prune.add_argument("--max-size", metavar="SIZE", help="then remove the least recently used until the cache fits (e.g. 5G)")
    prune.add_argument("--all", action="store_true", help="remove every env not in use")
    prune.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    prune.add_argument("--json", action="store_true", help="print JSON")


def cmd_cache(args: argparse.Namespace, out: Any, err: Any) -> int:
    if args.cache_command == "list":
        envs = list_envs()
        if args.json:  # the cache's path, and last use also as ISO 8601
            print(json.dumps({"path": str(envs_dir()), "envs": [{**e.to_dict(), "last_used_at": _iso(e.last_used)} for e in envs]},
                             indent=2))
        else:
            out.print(f"cache: {escape(str(envs_dir()))}", highlight=False)
            _print_envs(out, envs)
        return 0
    pruned = prune(older_than=parse_duration(args.older_than) if args.older_than else None,
                   max_size=parse_size(args.max_size) if args.max_size else None, everything=args.all, dry_run=args.dry_run)
    if args.json:
        print(json.dumps(pruned.to_dict(), indent=2))
        return 0
    verb = "would remove" if args.dry_run else "removed"
    for env in pruned.removed:
        out.print(f"{verb} {env.path.name} ({human_size(env.size)}, last used {human_age(time.time() - env.last_used)})",
                  highlight=False)
    for env in pruned.in_use:
        out.print(f"[yellow]kept[/] {env.path.name}: in use by another envforge process", highlight=False)
    for warning in pruned.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    out.print(f"{verb} {len(pruned.removed)} env(s), {human_size(pruned.freed)}; "
              f"{len(pruned.kept) + len(pruned.in_use)} left", highlight=False)
    return 0


def _print_envs(out: Any, envs: list[Any]) -> None:
    from rich.table import Table
    if not envs:
        out.print("no cached environments")
        return
    table = Table(show_edge=False, pad_edge=False)
    for title in ("key", "backend", "python", "size", "last used", "models"):
        table.add_column(title)
    for env in envs:
        models = ", ".join(env.models[-3:]) + (f" (+{len(env.models) - 3})" if len(env.models) > 3 else "")
        if env.shared_by:  # other requirement sets (or logging days) that resolve to these very packages use it too
            models += f" [shared: {len(env.shared_by) + 1} requirement sets resolve to it]"
        table.add_row(env.key[:12] + ("" if env.complete else " (unfinished)"), env.backend, env.python or "-",
                      human_size(env.size), human_age(time.time() - env.last_used), escape(models or "-"))
    out.print(table)
    out.print(f"{len(envs)} env(s), {human_size(sum(e.size for e in envs))}", highlight=False)


def _iso(epoch: float) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_duration(text: str) -> float:
    """"14d", "12h", "30m", "90s", "2w" -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text.lower())
    if not match:
        raise UsageError(f"{text!r} is not a duration.", "Use a number and a unit: s, m, h, d or w (e.g. 14d, 12h).")
    return float(match.group(1)) * _DURATION[match.group(2)]


def parse_size(text: str) -> int:
    """"5G", "500M", "1.5GiB", "2048" -> bytes (K, M, G, T are powers of 1024)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", text.lower())
    if not match:
        raise UsageError(f"{text!r} is not a size.", "Use a number with an optional unit K, M, G or T (e.g. 5G, 500M).")
    return int(float(match.group(1)) * _SIZE[match.group(2)])


def human_size(size: float) -> str:
    for unit in ("B", "K", "M", "G"):
        if size < 1024:
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.1f}{unit}"
        size /= 1024
    return f"{size:.1f}T"


def human_age(seconds: float) -> str:
    for unit, length in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= length:
            return f"{seconds / length:.0f} {unit} ago"
    return "just now"


COMMANDS = {"cache": cmd_cache}
