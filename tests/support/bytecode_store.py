"""The integration run shares one bytecode store between tests (integration/conftest.py); a module testing the store
itself keeps one per home again with `private_bytecode_store`."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def private_bytecode_store() -> Iterator[None]:
    """ENVFORGE_BYTECODE_DIR unset while inside (use it in a module-scoped autouse fixture, so before the module's own
    fixtures build anything): each ENVFORGE_HOME has its own store, as without the variable."""
    shared = os.environ.pop("ENVFORGE_BYTECODE_DIR", None)
    try:
        yield
    finally:
        if shared is not None:
            os.environ["ENVFORGE_BYTECODE_DIR"] = shared
