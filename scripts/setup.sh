#!/usr/bin/env bash
# Create .venv (Python >= 3.10) and install ml-data into it, with the extras given as arguments.
#   bash scripts/setup.sh            # the package
#   bash scripts/setup.sh test       # the package and its test dependencies
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
extras=$(IFS=,; echo "$*")
.venv/bin/python -m pip install --quiet --editable ".${extras:+[$extras]}"
