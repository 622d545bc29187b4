#!/usr/bin/env bash
# Install an ML backend built on label-studio-ml (from PyPI) into its own virtual environment,
# .cache/ml-backend-venv, for the tests that let Label Studio and `ml-data predict` talk to a real
# one. label-studio-ml pins Flask 1.1.2 and Werkzeug 2.0.2, which ml-data's test environment cannot
# share; its model module imports rq and redis without declaring them, so they are added here. The
# backend reads its tasks' files through ml-data, run from the source tree (PYTHONPATH): ml-data's
# own dependencies, read from pyproject.toml, are installed beside it. Reinstalled only when this
# script or pyproject.toml changes.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.cache/ml-backend-venv
python=${PYTHON:-python3}
stamp="$venv/.installed"
wanted=$(cat scripts/install-ml-backend.sh pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && [ -x "$venv/bin/python" ]; then
    exit 0
fi
mkdir -p .cache
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
mapfile -t core < <("$venv/bin/python" -c '
import tomllib
with open("pyproject.toml", "rb") as handle:
    print("\n".join(tomllib.load(handle)["project"]["dependencies"]))
')
"$venv/bin/python" -m pip install --quiet "label-studio-ml==1.0.9" "rq==3.0.0" "${core[@]}"
# The backend must start: its app, its model base class, and ml-data from the source tree.
PYTHONPATH=$PWD "$venv/bin/python" -c 'from label_studio_ml.api import init_app; import ml_data'
echo "$wanted" > "$stamp"
