"""A sqlite tracking URI whose file does not exist is a typo, not a new store.

MLflow creates the database it is pointed at: `--tracking-uri sqlite:///nowhere/mlflow.db` (or a relative
`sqlite:///envforge-quickstart/mlflow.db` used from another directory) made an empty store there and, many
seconds later, said the model does not exist. envforge never creates a tracking store: the file must be there
before MLflow is asked anything (exit 2, naming the absolute path looked at)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from envforge.errors import ResolveError
from envforge.redact import redact


def sqlite_path(tracking: str) -> Path | None:
    """The absolute file a sqlite tracking URI names (a relative one from the current directory); None for other stores
    and for sqlite's in-memory database."""
    scheme = urlparse(tracking).scheme
    if not scheme.startswith("sqlite") or ":///" not in tracking:
        return None
    raw = unquote(tracking.split(":///", 1)[1].split("?", 1)[0])  # sqlite:////abs/file or sqlite:///relative/file
    if not raw or raw == ":memory:":
        return None
    return Path(raw).absolute()


def check_exists(tracking: str) -> None:
    path = sqlite_path(tracking)
    if path is None or path.is_file():
        return
    relative = not tracking.split(":///", 1)[1].startswith("/")
    where = f" (a relative path is read from the current directory, {Path.cwd()})" if relative else ""
    raise ResolveError(
        f"The tracking URI {redact(tracking)} names a SQLite store that does not exist: {path}{where}. "
        "envforge never creates a tracking store (MLflow would create an empty one there).",
        f"Point --tracking-uri (or MLFLOW_TRACKING_URI) at an existing store, with its absolute path: "
        f"sqlite:///{path} names it from any directory (sqlite: and four slashes before an absolute path).",
    )


def check_args(args: object) -> None:
    """The CLI's check right after parsing, before anything is imported or downloaded: --tracking-uri, else
    $MLFLOW_TRACKING_URI, when it is a sqlite URI."""
    import os

    if not hasattr(args, "tracking_uri"):
        return  # the command takes no tracking store (quickstart makes its own)
    given = getattr(args, "tracking_uri", None) or os.environ.get("MLFLOW_TRACKING_URI")
    if isinstance(given, str) and given:
        check_exists(given)


def absolute(tracking: str) -> str:
    """A sqlite URI with a relative path as the same store's absolute URI (`sqlite:////abs/mlflow.db`), so that the
    relative and absolute spellings of one store are one store to envforge's download cache; any other URI as given."""
    path = sqlite_path(tracking)
    if path is None or tracking.split(":///", 1)[1].startswith("/"):
        return tracking
    scheme = tracking.split(":///", 1)[0]
    query = tracking.split("?", 1)[1] if "?" in tracking else ""
    return f"{scheme}:///{path}" + (f"?{query}" if query else "")
