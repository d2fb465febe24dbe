"""The Java runtime a Spark (or H2O, Spark NLP) model needs, found on this machine.

pyspark starts a JVM: without `java` it dies with "Java gateway process exited before sending its port
number", deep in the loader. envforge looks for the JRE before building (JAVA_HOME, else `java` on
PATH), checks that its major version is one the model's pyspark runs on, and, when the env has pyspark,
gives the sandbox read-only access to the JRE's files that live outside /usr (Debian keeps its
configuration under /etc/java-N-openjdk) and points PYSPARK_PYTHON/PYSPARK_DRIVER_PYTHON at the env's
interpreter (else Spark starts its Python workers with the first `python` on PATH), and binds Spark's driver to
loopback (SPARK_LOCAL_IP, SPARK_LOCAL_HOSTNAME).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from envforge.errors import EnvBuildError
from envforge.processes.proc import run
from envforge.spec.flavors import SPARK_LOOPBACK

REMEDY = ("Install a headless Java runtime (Debian/Ubuntu: `apt-get install openjdk-17-jre-headless`; Fedora: "
          "`dnf install java-17-openjdk-headless`) or point JAVA_HOME at one; or use --backend docker, whose image gets one.")
LOOPBACK = SPARK_LOOPBACK  # Spark's driver on loopback: the sandbox's host name resolves nowhere
_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')


@dataclass(frozen=True)
class JavaRuntime:
    java: str                 # the `java` binary, symlinks followed
    home: str                 # JAVA_HOME
    major: int | None         # 8, 11, 17, 21
    version_line: str         # the first line of `java -version`
    read_only: tuple[str, ...] = field(default=())  # what the sandbox must see besides /usr

    def variables(self, python: str) -> dict[str, str]:
        return {"JAVA_HOME": self.home, "PYSPARK_PYTHON": python, "PYSPARK_DRIVER_PYTHON": python, **LOOPBACK}


def parse_major(text: str) -> int | None:
    """`openjdk version "17.0.15"` -> 17, `java version "1.8.0_392"` -> 8."""
    match = _VERSION.search(text)
    if not match:
        return None
    first = int(match.group(1))
    return int(match.group(2) or 0) if first == 1 else first


def find_java(java_home: str | None = None) -> JavaRuntime | None:
    """JAVA_HOME's java, else the first on PATH; None when there is none (or it does not run)."""
    home = java_home if java_home is not None else os.environ.get("JAVA_HOME")
    candidate = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not candidate or not os.path.isfile(candidate):
        return None
    return _probe(os.path.realpath(candidate))


@lru_cache(maxsize=8)
def _probe(real: str) -> JavaRuntime | None:
    done = run([real, "-version"], timeout=60)
    text = (done.stderr or "") + (done.stdout or "")
    if not done.ok:
        return None
    line = next((ln for ln in text.splitlines() if "version" in ln), text.strip().splitlines()[0] if text.strip() else "")
    home_dir = str(Path(real).parent.parent)
    return JavaRuntime(real, home_dir, parse_major(text), line.strip(), tuple(outside_paths(Path(home_dir))))


def outside_paths(home: Path) -> list[str]:
    """Directories outside /usr that the JRE's symlinks point into (e.g. /etc/java-17-openjdk), and the home
    itself when it is not under /usr: what the sandbox's read-only view must add for the JVM to start."""
    found: set[str] = set()
    if not str(home).startswith("/usr/"):
        found.add(str(home))
    for root, dirs, files in os.walk(home):
        for name in [*dirs, *files]:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                continue
            target = os.path.realpath(path)
            if target.startswith(("/usr/", str(home))) or not os.path.exists(target):
                continue
            parts = Path(target).parts
            found.add(str(Path(*parts[:3])) if len(parts) > 3 and parts[1] == "etc" else str(Path(target).parent))
    return sorted(found)


def supported_majors(pyspark_version: str | None) -> tuple[int, ...] | None:
    """The Java majors a pyspark release runs on (Spark's documentation); None when unknown or unpinned."""
    if not pyspark_version:
        return None
    match = re.match(r"(\d+)\.(\d+)", pyspark_version)
    if not match:
        return None
    major, minor = int(match.group(1)), int(match.group(2))
    if major >= 4:
        return (17, 21)
    if major == 3:
        return (8, 11, 17) if minor >= 3 else (8, 11)
    return (8,)


def require_java(why: str, pyspark_version: str | None = None) -> JavaRuntime:
    """The JRE, or an EnvBuildError saying what is missing and how to get it (before anything is built)."""
    found = find_java()
    if found is None:
        raise EnvBuildError(f"{why}, and there is no Java runtime on this machine (no JAVA_HOME, no `java` on PATH).", REMEDY)
    majors = supported_majors(pyspark_version)
    if majors and found.major and found.major not in majors:
        raise EnvBuildError(
            f"{why}: pyspark {pyspark_version} runs on Java {', '.join(map(str, majors))}, and this machine's Java is "
            f"{found.major} ({found.version_line}, {found.java}).",
            f"Point JAVA_HOME at a Java {majors[-1]} runtime. " + REMEDY)
    return found


def env_has_pyspark(env_path: Path) -> bool:
    return any(env_path.glob("lib/python*/site-packages/pyspark/__init__.py")) or \
        any(env_path.glob("Lib/site-packages/pyspark/__init__.py"))


def for_env(env_path: Path) -> JavaRuntime | None:
    """The JRE to hand to a runner whose env has pyspark; None otherwise (or when there is none)."""
    return find_java() if env_has_pyspark(env_path) else None


_GATEWAY = ("JAVA_GATEWAY_EXITED", "Java gateway process exited before sending its port number")


def gateway_failure(model_error: dict) -> str | None:
    """The verdict for a Spark model whose JVM did not start (pyspark's "Java gateway process exited"): the Java
    runtime (or the machine), not the model; None for any other error."""
    text = f"{model_error.get('type', '')}: {model_error.get('message', '')}"
    if not any(word in text for word in _GATEWAY):
        return None
    found = find_java()
    said = "pyspark: \"Java gateway process exited before sending its port number\""
    if found is None:
        return f"Spark's JVM did not start in the rebuilt env ({said}), and this machine has no Java runtime: not the model. {REMEDY}"
    return (f"Spark's JVM did not start in the rebuilt env ({said}) with {found.version_line} at {found.java}: the Java runtime, "
            f"the machine or a limit, not the model. Check that `java -version` runs and that Java {found.major} is one the model's "
            "pyspark supports; raise --memory if it is low (the JVM reserves its heap at start); `envforge shell` reproduces it.")
