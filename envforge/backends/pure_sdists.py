"""Source-only packages whose build is packaging, not compiling: the wheel check lets them through.

pyspark has never published a wheel: every release is a source archive (~317 MB) that already holds Spark's
jars, and building it only copies them into a wheel (no compiler, no native code; uv caches the built wheel,
so a second build of the same version reuses it). Refusing it as a "source build" made every Spark model
fail with exit 3 unless --allow-source-builds was given, although nothing in it builds for longer than it
takes to unpack. Every other package without a wheel is still refused (backends/wheel_check.py).
"""

from __future__ import annotations

PURE = {
    "pyspark": "its source archive carries Spark's jars; the build only packages them",
}


def dry_resolve_args() -> list[str]:
    """uv pip compile arguments that let these packages resolve from source under `--only-binary :all:`."""
    return [arg for name in sorted(PURE) for arg in ("--no-binary", name)]
