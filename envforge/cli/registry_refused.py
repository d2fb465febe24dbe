"""verify-registry writes its reports whatever fails (issue 31): a listing the server refuses (401/403), a tracking
server that cannot be reached, still leaves --json/--junit behind, with one error result naming the registry, as
`envforge verify` does for its model."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator

from envforge.errors import EnvforgeError


@contextlib.contextmanager
def reported_if_refused(args: argparse.Namespace) -> Iterator[None]:
    try:
        yield
    except EnvforgeError as exc:
        if args.json or args.junit:
            from envforge.cli.output import report_errors
            from envforge.redact import redact
            from envforge.reporters.catalog import write_files
            from envforge.reporters.stream import RunEnded
            from envforge.result import VerifyResult

            where = args.tracking_uri or args.uris_file or "the registry"
            result = VerifyResult.from_error(f"registry:{redact(str(where))}", args.backend, exc)
            with contextlib.suppress(EnvforgeError), report_errors():  # the first error is the one to say
                write_files(RunEnded([result]), args.json, args.junit, command="verify")
        raise
