"""Path containment: a path from a task may only name a file inside the folder it belongs to.

Task data is untrusted: ``?d=../../etc/passwd``, ``%2e%2e``, absolute paths, NUL bytes, backslashes
and symlinks pointing out of the folder must all be refused, never read and never sent on.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ml_data.errors import UnsafePath

_DRIVE = re.compile(r"^[a-zA-Z]:")


def check_relative(path: str, *, url: str | None = None) -> str:
    """Refuse a task-supplied relative path that could leave its root; return it unchanged.

    Refused: empty, NUL bytes, backslashes, drive letters, absolute paths, ``..`` components.
    """
    if not path:
        raise UnsafePath("empty file path", url=url)
    if "\x00" in path:
        raise UnsafePath("file path contains a NUL byte", url=url)
    if "\\" in path:
        raise UnsafePath("file path contains a backslash", url=url)
    if path.startswith("/") or _DRIVE.match(path):
        raise UnsafePath("file path must be relative to its root, not absolute", url=url)
    if any(part == ".." for part in path.split("/")):
        raise UnsafePath("file path must not contain '..'", url=url)
    return path


def usable_root(root: Path | None) -> Path | None:
    """The real path of a configured root, or None when unset or ``/`` (which would allow anything)."""
    if root is None:
        return None
    real = Path(os.path.realpath(root))
    return None if real == Path(real.anchor) else real


def is_within(path: Path, root: Path) -> bool:
    """True if real path ``path`` is ``root`` itself or below it (both already real paths)."""
    try:
        return os.path.commonpath([path, root]) == os.fspath(root)
    except ValueError:
        return False


def contained_path(root: Path, relative: str, *, url: str | None = None) -> Path:
    """The real path of ``root/relative``, refusing anything that ends up outside ``root``.

    ``root`` must already be a real path (see :func:`usable_root`). Symlinks are followed, so a
    link inside the root that points out of it is refused.
    """
    check_relative(relative, url=url)
    real = Path(os.path.realpath(root / relative))
    if not is_within(real, root):
        raise UnsafePath(f"file path resolves outside {root} (through a symlink)", url=url)
    return real


def contained_absolute(path: str, roots: list[Path], *, url: str | None = None) -> Path:
    """The real path of absolute ``path`` if it lies inside one of ``roots``, else UnsafePath."""
    if "\x00" in path:
        raise UnsafePath("file path contains a NUL byte", url=url)
    if "\\" in path:
        raise UnsafePath("file path contains a backslash", url=url)
    real = Path(os.path.realpath(path))
    if not roots:
        raise UnsafePath(
            "local paths are only read inside configured folders: set LOCAL_FILES_DOCUMENT_ROOT, "
            "ML_DATA_UPLOAD_DIR or ML_DATA_LOCAL_ROOTS",
            url=url,
        )
    if not any(is_within(real, root) for root in roots):
        raise UnsafePath("file path is outside every configured folder", url=url)
    return real
