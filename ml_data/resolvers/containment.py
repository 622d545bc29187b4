"""Path containment: a path from a task may only name a file inside the folder it belongs to.

Task data is untrusted: ``?d=../../etc/passwd``, ``%2e%2e``, absolute paths, NUL bytes, backslashes
and symlinks pointing out of the folder must all be refused, never read and never sent on. This
module checks the path as written; :mod:`ml_data.resolvers.beneath` opens it without leaving the
folder (the symlinks on the way are only known, and only safe to follow, at that moment).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ml_data.errors import NotFound, UnsafePath

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


def root_holding(path: str, roots: list[Path], *, url: str | None = None) -> tuple[Path, str]:
    """The allowed root that holds absolute ``path``, and the path's real path relative to it.

    The real path only chooses the root (a path may reach it through a link); the file is then
    opened beneath that root from the relative path (:mod:`ml_data.resolvers.beneath`), so a link
    swapped in meanwhile cannot lead out of it.
    """
    if "\x00" in path:
        raise UnsafePath("file path contains a NUL byte", url=url)
    if "\\" in path:
        raise UnsafePath("file path contains a backslash", url=url)
    if not roots:
        raise UnsafePath(
            "local paths are only read inside configured folders: set LOCAL_FILES_DOCUMENT_ROOT, "
            "ML_DATA_UPLOAD_DIR or ML_DATA_LOCAL_ROOTS",
            url=url,
        )
    try:
        real = Path(os.path.realpath(path))
    except OSError as exc:  # a link on the path changed while it was read (EINVAL), a loop, ...
        raise NotFound(f"cannot look up the file path: {exc.strerror or exc}", url=url) from None
    for root in roots:
        if is_within(real, root):
            return root, real.relative_to(root).as_posix()
    raise UnsafePath("file path is outside every configured folder", url=url)
