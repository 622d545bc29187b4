"""The environment of a benchmark's child Python process."""

from __future__ import annotations

import os
from pathlib import Path

#: The repository root: the parent imports from it as the current folder (``python -m``), a child
#: started with ``-c`` gets it through PYTHONPATH, ahead of any installed copy of ml_data.
ROOT = Path(__file__).resolve().parents[1]


def child_env() -> dict[str, str]:
    """This environment, with the repository root first on PYTHONPATH."""
    inherited = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), inherited)))}
