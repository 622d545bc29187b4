#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine, then run the whole suite.
# Extra arguments go to pytest (e.g. bash scripts/test.sh -k cache -x).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh test all
# Azurite (the Azure Blob emulator) from npm, pinned by package-lock.json.
npm ci --no-audit --no-fund --loglevel=error
# Label Studio in a virtual environment of its own (its pins differ from ml-data's).
bash scripts/install-label-studio.sh
.venv/bin/ruff check ml_data tests benchmarks
.venv/bin/ruff format --check --quiet ml_data tests benchmarks
.venv/bin/mypy ml_data
exec .venv/bin/python -m pytest "$@"
