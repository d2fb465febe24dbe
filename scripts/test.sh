#!/usr/bin/env bash
# Set up everything envforge's tests need on a fresh machine, then run them.
# Safe to re-run: pip's and uv's caches persist between runs on one machine.
#   scripts/test.sh                 # the whole suite (unit + integration)
#   scripts/test.sh tests -k spec   # any pytest arguments
# Test files run two at a time (pytest-xdist, one file per worker so module fixtures are built once);
# ENVFORGE_TEST_WORKERS=0 runs them in one process.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${ENVFORGE_TEST_PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "scripts/test.sh: needs Python >= 3.10 as \$ENVFORGE_TEST_PYTHON or python3" >&2
    exit 2
fi
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
# The distribution was renamed envforge -> envforge-mlflow: an editable install under the old name would register the
# pytest plugin and the `envforge` script twice.
.venv/bin/python -m pip uninstall --quiet --disable-pip-version-check -y envforge 2>/dev/null || true
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]' 2>&1 | grep -v '^WARNING: Location' || true
.venv/bin/python -c 'import envforge, mlflow, sklearn, uv, rattler, rattler_build, conda_lock' # fail here, clearly, if the install did not work
.venv/bin/python scripts/check-machine.py  # interpreters: provides what it can, says up front what will skip
DOCKER_HOST=$(scripts/setup-docker.sh); export DOCKER_HOST  # a real Docker engine + local base image (docker tests)
# Headless Chromium renders verify-registry's HTML report in a test (Debian's package; installed once).
if ! command -v chromium >/dev/null 2>&1; then
    apt-get install -y chromium >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y chromium >/dev/null; }
fi
# bubblewrap sandboxes the model under the local backends (envforge/execution/sandbox.py; Debian's package).
if ! command -v bwrap >/dev/null 2>&1; then
    apt-get install -y bubblewrap >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y bubblewrap >/dev/null; }
fi

# A Java runtime for the Spark tests (tests/test_java_runtime.py, integration/test_spark_model.py; Debian's package).
if ! command -v java >/dev/null 2>&1; then
    apt-get install -y openjdk-17-jre-headless >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y openjdk-17-jre-headless >/dev/null; }
fi

# PostgreSQL for the MLflow backend-store tests (tests/support/stacks.py runs a private cluster; Debian's package).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    apt-get install -y postgresql >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y postgresql >/dev/null; }
fi

WORKERS=${ENVFORGE_TEST_WORKERS:-2}
.venv/bin/python -m pytest -p no:cacheprovider -n "$WORKERS" --dist loadfile --durations=30 "$@"  # where the time goes
