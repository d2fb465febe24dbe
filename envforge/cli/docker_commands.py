"""`envforge dockerfile`: the docker backend's build context, written out. Parsing and printing only."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from envforge.cli import options as opt
from envforge.cli.output import escape


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("dockerfile", help="write a Docker build context that rebuilds the model as an image",
                       description="Write the Dockerfile and build context of the model image (the rebuilt environment, the model, "
                                   "envforge's runner and an `mlflow models serve` entrypoint on port 8080), to read or build elsewhere.")
    opt.add_uri(p)
    opt.add_tracking(p)
    p.add_argument("-o", "--output", type=Path, required=True, metavar="DIR", help="a new or empty directory for the context")
    opt.add_image_build(p, prefix="")
    opt.add_index_urls(p)


def cmd_dockerfile(args: argparse.Namespace, out: Any, err: Any) -> int:
    from envforge.backends.docker.export import export_context

    done = export_context(args.uri, args.output, opt.build_options(args), tracking_uri=args.tracking_uri)
    out.print(f"wrote the build context to [bold]{escape(str(done.directory))}[/] (base image {escape(done.base_image)})", highlight=False)
    out.print(f"build it with: {escape(done.build_command())}", highlight=False)
    if done.secret_args:
        out.print(f"[yellow]pass your credentials yourself[/] in: {', '.join(done.secret_args)} (not written anywhere)", highlight=False)
    return 0


COMMANDS = {"dockerfile": cmd_dockerfile}
