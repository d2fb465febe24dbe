#!/usr/bin/env bash
# A real Docker engine and a local base image for envforge's docker tests, without any registry.
#   scripts/setup-docker.sh          # install, start, build/load the base image; prints DOCKER_HOST
#   scripts/setup-docker.sh --stop   # stop the engine this script started
# Idempotent and quick when warm: the engine keeps running between runs, and the base image is
# cached as a `docker save | gzip` archive under ~/.cache/envforge-tests (a `docker load` later).
# Progress goes to stderr; the only line on stdout is the DOCKER_HOST value to use.
set -euo pipefail

STATE=${ENVFORGE_DOCKER_DIR:-/var/tmp/envforge-docker}
CACHE=${ENVFORGE_TEST_CACHE:-$HOME/.cache/envforge-tests}
BASE_IMAGE=${ENVFORGE_TEST_BASE_IMAGE:-envforge-test-base:bookworm}
SUITE=bookworm
SOCK=$STATE/docker.sock
export DOCKER_HOST=unix://$SOCK
# Debian's engine speaks API 1.41; the newer client on PATH must not ask for more.
export DOCKER_API_VERSION=1.41

say() { echo "setup-docker: $*" >&2; }

mkdir -p "$STATE" "$CACHE"

if [ "${1:-}" = "--stop" ]; then
    if [ -f "$STATE/docker.pid" ] && kill -0 "$(cat "$STATE/docker.pid")" 2>/dev/null; then
        kill "$(cat "$STATE/docker.pid")"
        say "stopped dockerd (pid $(cat "$STATE/docker.pid"))"
    fi
    exit 0
fi

exec 9>"$STATE/setup.lock"
flock 9   # concurrent test runs set up once

# 1. the engine and debootstrap, from Debian's packages
if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
    say "installing docker.io and debootstrap with apt"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends docker.io debootstrap >&2
fi

engine_up() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# 2. the engine, on a socket under $STATE (only the host and none networks exist with these flags)
if ! engine_up; then
    if [ -f "$STATE/docker.pid" ] && ! kill -0 "$(cat "$STATE/docker.pid")" 2>/dev/null; then
        rm -f "$STATE/docker.pid" "$SOCK"
    fi
    say "starting dockerd on $SOCK (log: $STATE/dockerd.log)"
    setsid dockerd --storage-driver=overlay2 --iptables=false --ip6tables=false --bridge=none \
        --host="unix://$SOCK" --data-root="$STATE/data" --exec-root="$STATE/exec" \
        --pidfile="$STATE/docker.pid" >>"$STATE/dockerd.log" 2>&1 < /dev/null 9>&- &
    for _ in $(seq 1 150); do
        engine_up && break
        sleep 0.2
    done
    if ! engine_up; then
        say "dockerd did not come up; the end of its log:"
        tail -n 30 "$STATE/dockerd.log" >&2
        exit 1
    fi
fi

# 3. the base image: already loaded, or loaded from the cache, or made with debootstrap
ARCHIVE="$CACHE/$(echo "$BASE_IMAGE" | tr ':/' '--').tar.gz"
if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    if [ -s "$ARCHIVE" ]; then
        say "loading $BASE_IMAGE from $ARCHIVE"
        gunzip -c "$ARCHIVE" | docker load >&2
    else
        MIRROR=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
        MIRROR=${MIRROR:-http://deb.debian.org/debian}
        ROOTFS=$(mktemp -d "$STATE/rootfs.XXXXXX")
        trap 'rm -rf "$ROOTFS"' EXIT
        say "debootstrap $SUITE from $MIRROR (about a minute, once)"
        debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
            "$SUITE" "$ROOTFS" "$MIRROR" >"$STATE/debootstrap.log" 2>&1 || {
            tail -n 30 "$STATE/debootstrap.log" >&2; exit 1; }
        # The proxy that re-signs HTTPS here: the image must trust its CA, as the host does.
        cp /usr/local/share/ca-certificates/*.crt "$ROOTFS/usr/local/share/ca-certificates/" 2>/dev/null || true
        chroot "$ROOTFS" update-ca-certificates >&2
        rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin
        tar -C "$ROOTFS" -c . | docker import - "$BASE_IMAGE" >&2
        rm -rf "$ROOTFS"
        trap - EXIT
        say "caching $BASE_IMAGE in $ARCHIVE"
        docker save "$BASE_IMAGE" | gzip -1 > "$ARCHIVE.tmp"
        mv "$ARCHIVE.tmp" "$ARCHIVE"
    fi
fi
echo "$DOCKER_HOST"
