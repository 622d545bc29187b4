#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine, then run the whole suite.
# Extra arguments go to pytest (e.g. bash scripts/test.sh -k cache -x).
# Setup steps whose inputs did not change since the last run are skipped (stamps in .cache/stamps/);
# each phase prints one line.
set -euo pipefail
cd "$(dirname "$0")/.."

stamps=.cache/stamps
mkdir -p "$stamps"
python=${PYTHON:-python3}

# Run "$@" as phase $1 unless its output $3 (a path) exists and the hash of its inputs ($2, a
# string, with the command itself) matches the last successful run. Whether the output exists is
# checked apart from the inputs: folded into them, it would be read before the phase runs, so the
# stamp saved after a first run would say "missing" and the next run would redo every phase.
phase() {
    local name=$1 inputs=$2 output=$3
    shift 3
    local stamp="$stamps/$name" digest started
    digest=$(printf '%s\n' "$inputs" "$*" | sha256sum | cut -d' ' -f1)
    if [ -e "$output" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ]; then
        echo "setup: $name: up to date"
        return 0
    fi
    started=$(date +%s)
    "$@"
    echo "$digest" > "$stamp"
    echo "setup: $name: done in $(( $(date +%s) - started ))s"
}

phase python-packages "$("$python" --version 2>&1) $(sha256sum pyproject.toml scripts/setup.sh)" .venv/bin/python \
    bash scripts/setup.sh test all ray video masks
# Azurite (the Azure Blob emulator) from npm, pinned by package-lock.json.
phase azurite "$(node --version 2>&1) $(sha256sum package-lock.json)" node_modules \
    npm ci --no-audit --no-fund --loglevel=error
# nginx (Debian's package) for the test of the shipped nginx config in front of the service. The
# package is installed without starting its default site (which would listen on every address).
install_nginx() {
    if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then return 0; fi
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "setup: nginx: not installed and no root apt-get here; its test is skipped"
        return 0
    fi
    local created_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
        created_policy=yes
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx-light >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 \
             && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx-light >/dev/null; }
    if [ -n "$created_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
}
# Where it cannot be installed (no root apt-get) the phase is tried again on each run: it only says so.
phase nginx "$(declare -f install_nginx)" "$(command -v nginx || echo /usr/sbin/nginx)" install_nginx
# Label Studio in a virtual environment of its own (its pins differ from ml-data's).
phase label-studio "$(sha256sum scripts/install-label-studio.sh)" .cache/label-studio-venv/bin/python \
    bash scripts/install-label-studio.sh
# An ML backend on label-studio-ml's own app, in a virtual environment of its own too (it pins Flask 1.1.2).
phase ml-backend "$(sha256sum scripts/install-ml-backend.sh pyproject.toml)" .cache/ml-backend-venv/bin/python \
    bash scripts/install-ml-backend.sh

started=$(date +%s)
.venv/bin/ruff check ml_data tests benchmarks
.venv/bin/ruff format --check --quiet ml_data tests benchmarks
.venv/bin/mypy ml_data
echo "checks: ruff and mypy passed in $(( $(date +%s) - started ))s"
# The suite talks only to the servers it starts on 127.0.0.1. Where the machine allows it, pytest runs
# in a network namespace of its own that has nothing but loopback, so nothing a test starts can reach
# another host (Ray's test cluster, for one, asks cloud metadata addresses what it runs on; its tests
# run only there).
if unshare --net true 2>/dev/null && command -v ip >/dev/null 2>&1; then
    exec unshare --net sh -c 'ip link set lo up && exec "$@"' sh .venv/bin/python -m pytest "$@"
fi
echo "tests: no network namespace here (unshare --net); the Ray tests are skipped"
exec .venv/bin/python -m pytest "$@"
