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

# Run "$@" as phase $1 unless the hash of its inputs ($2, a string) matches the last successful run.
phase() {
    local name=$1 inputs=$2
    shift 2
    local stamp="$stamps/$name" digest started
    digest=$(printf '%s' "$inputs" | sha256sum | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ]; then
        echo "setup: $name: up to date"
        return 0
    fi
    started=$(date +%s)
    "$@"
    echo "$digest" > "$stamp"
    echo "setup: $name: done in $(( $(date +%s) - started ))s"
}

python_inputs="$("$python" --version 2>&1) $(sha256sum pyproject.toml) $( [ -x .venv/bin/python ] && echo venv || true)"
phase python-packages "$python_inputs" bash scripts/setup.sh test all ray
# Azurite (the Azure Blob emulator) from npm, pinned by package-lock.json.
node_inputs="$(node --version 2>&1) $(sha256sum package-lock.json) $( [ -d node_modules ] && echo modules || true)"
phase azurite "$node_inputs" npm ci --no-audit --no-fund --loglevel=error
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
phase nginx "$(command -v nginx || ls /usr/sbin/nginx 2>/dev/null || echo missing)" install_nginx
# Label Studio in a virtual environment of its own (its pins differ from ml-data's).
phase label-studio "$(sha256sum scripts/install-label-studio.sh) $( [ -x .cache/label-studio-venv/bin/python ] && echo venv || true)" \
    bash scripts/install-label-studio.sh

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
