"""Reading a model's output folder: its files in a stable order, each read whole with a bound.

The folder is the user's, its names are not: names are only compared and reported (escaped),
never used to build paths elsewhere. Hidden files and folders (``.ipynb_checkpoints``, macOS
``._x.txt``) are not output; links are not followed (a link is reported, not read), so a walk
never leaves the folder.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from ml_data.backend.predictions.model import ItemProblem

#: A label or annotation file larger than this is not one image's output.
MAX_ITEM_BYTES = 64 * 1024 * 1024


def walk(root: Path, suffix: str) -> Iterator[Path]:
    """Files under ``root`` whose name ends with ``suffix`` (case-insensitive), in sorted order,
    hidden names and links to folders left out."""
    for folder, folders, files in os.walk(root):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and name.lower().endswith(suffix):
                yield Path(folder) / name


def read_item(path: Path, limit: int = MAX_ITEM_BYTES) -> bytes:
    """The bytes of one output file: a regular file (not a link), at most ``limit`` bytes."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        raise ItemProblem(f"cannot be read ({exc.strerror or type(exc).__name__})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ItemProblem("is not a regular file (links are not followed)")
    if info.st_size > limit:
        raise ItemProblem(f"is larger than {limit} bytes")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as exc:
        raise ItemProblem(f"cannot be read ({exc.strerror or type(exc).__name__})") from None
    with os.fdopen(descriptor, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ItemProblem(f"is larger than {limit} bytes")
    return data


def read_text(path: Path, limit: int = MAX_ITEM_BYTES) -> str:
    """:func:`read_item` as UTF-8 text (a byte order mark allowed)."""
    try:
        return read_item(path, limit).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ItemProblem(f"is not UTF-8 text (byte {exc.start})") from None


def relative_parts(path: Path, root: Path) -> tuple[str, ...]:
    """The folders between ``root`` and ``path``."""
    return path.parent.relative_to(root).parts
