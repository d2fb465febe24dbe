"""The tracking server a models:/ or runs:/ URI needs, checked before MLflow is asked anything.

Two things MLflow does on its own would surprise a user of a CLI: with no tracking URI set, MLflow 3
falls back to `sqlite:///mlflow.db` and *creates* that database (about 1 MB, with "Creating initial
MLflow database tables..." on stderr) in whatever directory envforge was started from; and against a
server that refuses connections its HTTP client retries with backoff for minutes before failing with
urllib3's "Max retries exceeded". So: no tracking URI and no existing default store is an error that
names the fix, and an http(s) server is probed with one TCP connection (a few quick attempts, each
reported) before MLflow's client is used.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlparse

from envforge.errors import ResolveError
from envforge.redact import redact

EXAMPLE = "http://127.0.0.1:5000"
CONNECT_TIMEOUT = 5.0  # one TCP connect; a live server accepts in milliseconds
ATTEMPTS = 3           # a refused connection is tried again (a server that is just starting), one second apart


def needs_tracking(uri: str) -> bool:
    """URIs that name something in a tracking server or registry (not an artifact store URL or a path)."""
    return uri.startswith(("models:", "runs:"))


def tracking_for(uri: str, tracking_uri: str | None = None) -> str:
    """The tracking URI for `uri`: --tracking-uri, else $MLFLOW_TRACKING_URI, else MLflow's default, but only
    when that default store already exists (MLflow would otherwise create ./mlflow.db right here)."""
    given = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if given:
        from envforge.modeldir.sqlite_store import absolute

        return absolute(given)  # sqlite:///relative and sqlite:////abs of one store: one store (one download)
    import mlflow

    default = str(mlflow.get_tracking_uri())  # computes the default; creates nothing
    if _exists(default):
        return default
    raise ResolveError(
        f"No tracking server is set for {redact(uri)}: neither --tracking-uri nor MLFLOW_TRACKING_URI is given, "
        f"and MLflow's default store ({redact(default)}) does not exist (MLflow would create it in the current directory).",
        f"Pass --tracking-uri {EXAMPLE} (or export MLFLOW_TRACKING_URI={EXAMPLE}), the address of your `mlflow server`; "
        "for a local store, e.g. --tracking-uri sqlite:///path/to/mlflow.db.",
    )


def _exists(store: str) -> bool:
    """Whether a local default store is already there; remote or unknown stores (databricks, http) count as there."""
    parsed = urlparse(store)
    if parsed.scheme.startswith("sqlite"):
        path = store.split(":///", 1)[1].split("?", 1)[0] if ":///" in store else ""  # sqlite:////abs or sqlite:///relative
        return bool(path) and Path(path).exists()
    if parsed.scheme in ("", "file"):
        return Path(unquote(parsed.path) if parsed.scheme == "file" else store).exists()
    return True


def check_reachable(tracking: str, progress: Callable[[str], None] | None = None) -> None:
    """Fail within seconds when an http(s) tracking server cannot be reached at all (refused, unresolvable,
    no route); say each retry through `progress`. Other stores, and hosts reached through a proxy, are left to MLflow."""
    from envforge.modeldir.sqlite_store import check_exists

    check_exists(tracking)  # a sqlite file that is not there: a typo, not a store to create
    parsed = urlparse(tracking)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return
    host = parsed.hostname
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
    except ValueError:
        raise ResolveError(f"The tracking URI {redact(tracking)} has an invalid port.",
                           f"Use a URI like {EXAMPLE}.") from None
    if _proxied(parsed.scheme, host):
        return
    where = f"{host}:{port}"
    for attempt in range(1, ATTEMPTS + 1):
        try:
            socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()
            return
        except socket.gaierror as exc:
            raise _unreachable(tracking, f"cannot resolve the host {host!r} ({exc.strerror or exc})") from None
        except ConnectionRefusedError:
            reason = f"cannot connect to {where}: connection refused"
        except TimeoutError:
            reason = f"cannot connect to {where}: no answer within {CONNECT_TIMEOUT:.0f} s"
        except OSError as exc:
            reason = f"cannot connect to {where}: {exc.strerror or exc}"
        if attempt < ATTEMPTS:
            if progress:
                progress(f"{reason}; retrying ({attempt + 1} of {ATTEMPTS})")
            time.sleep(1.0)
    raise _unreachable(tracking, f"{reason} (tried {ATTEMPTS} times)")


def _proxied(scheme: str, host: str) -> bool:
    import urllib.request  # only when a server is asked: it imports http.client, ssl and email (15 ms)

    proxies = urllib.request.getproxies()
    return bool(proxies.get(scheme) or proxies.get("all")) and not urllib.request.proxy_bypass(host)


def _unreachable(tracking: str, reason: str) -> ResolveError:
    return ResolveError(
        f"{reason} (the tracking server {redact(tracking)}).",
        "Start the server (e.g. `mlflow server --host 127.0.0.1 --port 5000`) or check --tracking-uri "
        "(or MLFLOW_TRACKING_URI): host, port and scheme.",
    )
