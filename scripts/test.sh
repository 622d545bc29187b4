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
