"""What authenticates anyone never reaches a model's process (issue 31).

`record` runs the model in the user's own environment with their MLFLOW_* variables (the model may read
MLFLOW_TRACKING_URI or MLFLOW_ENABLE_*): the credentials among them are dropped, and so is a URI variable that
carries a user:password in it. verify's sandbox passes no MLFLOW_* at all (execution/sandbox.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from envforge.redact import redact

# MLFLOW_TRACKING_USERNAME / _PASSWORD / _TOKEN, MLFLOW_TRACKING_AWS_SIGV4's keys, any *_SECRET*, *_KEY, *_CREDENTIAL*
_CREDENTIAL = re.compile(r"(USERNAME|PASSWORD|PASSWD|TOKEN|SECRET|CREDENTIAL|_KEY$|_KEY_|AUTH)", re.IGNORECASE)
_CLOUD = ("AWS_", "AZURE_", "GOOGLE_APPLICATION_CREDENTIALS", "GCLOUD_", "DATABRICKS_")


def without_credentials(env: Mapping[str, str]) -> dict[str, str]:
    """`env` less every variable that is a credential or holds one (a URI with user:password)."""
    return {name: value for name, value in env.items() if not is_credential(name, value)}


def is_credential(name: str, value: str) -> bool:
    if name.startswith(_CLOUD) or _CREDENTIAL.search(name):
        return True
    return "://" in value and redact(value) != value


def credentials_seen(env: Mapping[str, str]) -> str:
    """The credential variables in `env`, named (never their values) for a one-line notice; "" when none."""
    names = sorted(name for name, value in env.items() if is_credential(name, value))
    return f"{len(names)} credential variable(s): {', '.join(names[:8])}{', ...' if len(names) > 8 else ''}" if names else ""
