"""verify-registry's exit code when versions did not pass (issue 31).

1 when any version failed or the errors differ; when EVERY version ended in an error of one kind, that error's own
exit code, the one each JSON result carries (2: none could be fetched, e.g. refused credentials or a missing
object-store SDK; 3: none could be built), so a CI script tells "the models broke" from "nothing could be tried".
"""

from __future__ import annotations

from collections.abc import Sequence

from envforge.errors import EXIT_FAILED
from envforge.result import ERROR, VerifyResult


def not_passed_code(results: Sequence[VerifyResult]) -> int:
    codes = {r.exit_code for r in results}
    if results and all(r.status == ERROR for r in results) and len(codes) == 1:
        return codes.pop() or EXIT_FAILED
    return EXIT_FAILED
