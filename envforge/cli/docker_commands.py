"""The docker backend's command-line options and `envforge dockerfile`. Registered by envforge.cli."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_docker_options(p: argparse.ArgumentParser) -> None:
    """--backend docker's options (envforge.backends.docker); the other backends ignore them."""
    p.add_argument("--base-image", metavar="IMAGE", help="--backend docker: the image to build on (default: python:<logged X.Y>-slim)")
    p.add_argument("--ca-bundle", metavar="PEM", help="--backend docker: CA certificates to trust while building (e.g. a proxy's)")
    p.add_argument("--tag", metavar="NAME", help="--backend docker: keep the image that passed as NAME; it serves the model on port 8080")
    p.add_argument("--keep-image", action="store_true", help="--backend docker: keep the model image even without --tag or a pass")
    p.add_argument("--memory", default="4g", metavar="SIZE", help="--backend docker: the container's memory limit (default: 4g)")


def docker_options(args: argparse.Namespace) -> dict[str, Any]:
    return {"base_image": args.base_image, "ca_bundle": args.ca_bundle, "tag": args.tag,
            "keep_image": args.keep_image, "memory": args.memory}


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("dockerfile", help="write a Docker build context that rebuilds the model as an image",
                       description="Write the Dockerfile and build context of the model image (the rebuilt environment, the model, "
                                   "envforge's runner and an `mlflow models serve` entrypoint on port 8080), to read or build elsewhere.")
    p.add_argument("uri", help="model URI (as for verify)")
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else MLflow's default)")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="DIR", help="a new or empty directory for the context")
    p.add_argument("--base-image", metavar="IMAGE", help="the image to build on (default: python:<logged X.Y>-slim)")
    p.add_argument("--ca-bundle", metavar="PEM", help="CA certificates to trust while building (copied into the context)")
    p.add_argument("--index-url", metavar="URL", help="package index to use instead of the model's")
    p.add_argument("--extra-index-url", action="append", default=[], metavar="URL", help="another package index (repeatable)")


def cmd_dockerfile(args: argparse.Namespace, out: Any, err: Any) -> int:
    from rich.markup import escape

    from envforge.backends.base import BuildOptions
    from envforge.backends.docker.export import export_context

    options = BuildOptions(base_image=args.base_image, ca_bundle=args.ca_bundle, index_url=args.index_url,
                           extra_index_urls=tuple(args.extra_index_url))
    done = export_context(args.uri, args.output, options, tracking_uri=args.tracking_uri)
    out.print(f"wrote the build context to [bold]{escape(str(done.directory))}[/] (base image {escape(done.base_image)})", highlight=False)
    out.print(f"build it with: {escape(done.build_command())}", highlight=False)
    if done.secret_args:
        out.print(f"[yellow]pass your credentials yourself[/] in: {', '.join(done.secret_args)} (not written anywhere)", highlight=False)
    return 0


COMMANDS = {"dockerfile": cmd_dockerfile}
