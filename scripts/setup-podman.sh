#!/usr/bin/env bash
# Podman's Docker-compatible API socket for envforge's docker tests (the backend must work with it).
#   scripts/setup-podman.sh          # install podman, start its API service, load the base image; prints DOCKER_HOST
#   scripts/setup-podman.sh --stop   # stop the service this script started
# Needs the base image archive that scripts/setup-docker.sh caches (run that first). Podman's own
# storage lives under $STATE, apart from the machine's. Progress goes to stderr; stdout is the
# DOCKER_HOST value only.
set -euo pipefail

STATE=${ENVFORGE_PODMAN_DIR:-/var/tmp/envforge-podman}
CACHE=${ENVFORGE_TEST_CACHE:-$HOME/.cache/envforge-tests}
BASE_IMAGE=${ENVFORGE_TEST_BASE_IMAGE:-envforge-test-base:bookworm}
SOCK=$STATE/podman.sock
# This sandbox forbids raising hard limits, which podman does by default for every container.
export CONTAINERS_CONF=$STATE/containers.conf
PODMAN=(podman --root "$STATE/root" --runroot "$STATE/run")

say() { echo "setup-podman: $*" >&2; }

mkdir -p "$STATE"
if [ "${1:-}" = "--stop" ]; then
    if [ -f "$STATE/service.pid" ] && kill -0 "$(cat "$STATE/service.pid")" 2>/dev/null; then
        kill "$(cat "$STATE/service.pid")"
        say "stopped the podman service (pid $(cat "$STATE/service.pid"))"
    fi
    exit 0
fi

exec 9>"$STATE/setup.lock"
flock 9

if ! command -v podman >/dev/null; then
    say "installing podman with apt"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq podman >&2 || { apt-get update -qq >&2 && apt-get install -y -qq podman >&2; }
fi
printf '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n' > "$CONTAINERS_CONF"

# A service whose working directory was removed (started from a checkout since deleted) cannot start
# containers ("conmon: Failed to get working directory"): restart it.
if [ -f "$STATE/service.pid" ] && kill -0 "$(cat "$STATE/service.pid")" 2>/dev/null \
        && [[ "$(readlink "/proc/$(cat "$STATE/service.pid")/cwd")" == *" (deleted)" ]]; then
    say "restarting the podman service: its working directory was removed"
    kill "$(cat "$STATE/service.pid")"
    for _ in $(seq 1 50); do kill -0 "$(cat "$STATE/service.pid")" 2>/dev/null || break; sleep 0.1; done
fi
if ! { [ -f "$STATE/service.pid" ] && kill -0 "$(cat "$STATE/service.pid")" 2>/dev/null; }; then
    rm -f "$SOCK"
    say "starting the podman API service on $SOCK (log: $STATE/service.log)"
    # From $STATE, which outlives any checkout the tests run from.
    (cd "$STATE" && exec setsid "${PODMAN[@]}" system service --time=0 "unix://$SOCK" >"$STATE/service.log" 2>&1 </dev/null 9>&-) &
    echo $! > "$STATE/service.pid"
fi
for _ in $(seq 1 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] || { say "the podman service did not start:"; tail -20 "$STATE/service.log" >&2; exit 1; }

if ! "${PODMAN[@]}" image exists "$BASE_IMAGE" 2>/dev/null; then
    ARCHIVE="$CACHE/$(echo "$BASE_IMAGE" | tr ':/' '--').tar.gz"
    [ -f "$ARCHIVE" ] || { say "no $ARCHIVE: run scripts/setup-docker.sh first (it makes the base image)"; exit 1; }
    say "loading $BASE_IMAGE from $ARCHIVE"
    gunzip -c "$ARCHIVE" | "${PODMAN[@]}" load >&2
fi
echo "unix://$SOCK"
