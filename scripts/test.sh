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
# The machine's own packages (Debian's) and the Docker engine, in the background while pip installs the Python side:
# on a fresh machine each takes minutes, mostly waiting on the network. One apt-get at a time (dpkg's lock).
#   chromium: renders verify-registry's HTML report in a test; bubblewrap: the sandbox under the local backends
#   (envforge/execution/sandbox.py); a Java runtime: the Spark tests; PostgreSQL: the MLflow backend-store tests
#   (tests/support/stacks.py runs a private cluster); docker.io + a local base image: the docker tests.
system_packages() {
    local want=()
    command -v chromium >/dev/null 2>&1 || want+=(chromium)
    command -v bwrap >/dev/null 2>&1 || want+=(bubblewrap)
    command -v java >/dev/null 2>&1 || want+=(openjdk-17-jre-headless)
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || want+=(postgresql)
    if [ ${#want[@]} -gt 0 ]; then
        echo "scripts/test.sh: installing ${want[*]} with apt" >&2
        apt-get install -y "${want[@]}" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "${want[@]}" >/dev/null; }
    fi
    scripts/setup-docker.sh > "$DOCKER_HOST_FILE"  # a real Docker engine + local base image (docker tests)
}
DOCKER_HOST_FILE=$(mktemp)
trap 'rm -f "$DOCKER_HOST_FILE"' EXIT
system_packages &
SYSTEM=$!

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
if ! wait "$SYSTEM"; then
    echo "scripts/test.sh: installing the machine's packages or starting Docker failed (the lines above say which)" >&2
    exit 1
fi
DOCKER_HOST=$(cat "$DOCKER_HOST_FILE"); export DOCKER_HOST
echo "scripts/test.sh: set up in ${SECONDS} s" >&2

WORKERS=${ENVFORGE_TEST_WORKERS:-2}
.venv/bin/python -m pytest -p no:cacheprovider -n "$WORKERS" --dist loadfile --durations=30 "$@"  # where the time goes
