#!/usr/bin/env bash
# Install Label Studio (from PyPI) into its own virtual environment, .cache/label-studio-venv, for
# the tests that run against a real server. Kept between runs; reinstalled only on a version change.
set -euo pipefail
cd "$(dirname "$0")/.."

version=1.23.2
venv=.cache/label-studio-venv
python=${PYTHON:-python3}
installed=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("label-studio"))' 2>/dev/null || true)
if [ "$installed" = "$version" ]; then
    exit 0
fi
mkdir -p .cache
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "label-studio==$version"
