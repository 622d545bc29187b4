"""docs/architecture.md's module map is the tree: every module of ml_data has its row, and every
row names a module that exists (a moved or removed module fails here until the map follows)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ml_data"
DOC = ROOT / "docs" / "architecture.md"


def _module_map() -> set[str]:
    """The module paths the map's table rows name in their first column (``a.py``, ``a.py`,
    `b.py`` in one cell names siblings of the first)."""
    text = DOC.read_text("utf-8")
    start = text.index("## Module map")
    section = text[start : text.index("\n### Tests", start)]
    named: set[str] = set()
    for line in section.splitlines():
        if not line.startswith("| `") or "py.typed" in line:
            continue
        cell = line.split("|")[1]
        paths = re.findall(r"`([A-Za-z0-9_/.]+)`", cell)
        folder = ""
        for path in paths:
            if "/" in path:
                folder = path.rsplit("/", 1)[0] + "/" if not path.endswith("/") else path
                named.add(path)
            else:
                named.add(folder + path)
    return named


def _modules() -> set[str]:
    return {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "__pycache__" not in path.parts and path.name != "__main__.py"
    }


def test_every_module_has_a_row():
    missing = sorted(module for module in _modules() - _module_map() if not module.endswith("__init__.py"))
    assert not missing, f"modules without a row in docs/architecture.md: {missing}"


def test_every_row_names_a_module_that_exists():
    modules = _modules()
    folders = {module.rsplit("/", 1)[0] + "/" for module in modules if "/" in module}
    stale = sorted(path for path in _module_map() if path not in modules and path not in folders)
    assert not stale, f"rows of docs/architecture.md naming no module: {stale}"
