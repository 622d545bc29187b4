"""File-system helpers every layer shares: folders and files that appear only when complete, and
file names that are safe on any file system.

Beneath everything but the errors: the converters, the cache and the pipeline all write through
these, so none of them has to import another for them.

>>> with atomic_folder("data/yolo") as folder:  # doctest: +SKIP
...     (folder / safe_filename("../classes.txt")).write_text("cat\\n")
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import unicodedata
import uuid
from collections.abc import Iterator
from pathlib import Path

from ml_data.errors import OutputError

#: The file in every output folder ml-data writes: such a folder may be replaced by the next run.
MARKER = ".ml-data-output"
_MARKER_TEXT = "Written by ml-data. The next run that writes here replaces this whole folder.\n"

MAX_FILENAME_BYTES = 120
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")
_LEADING = re.compile(r"^[._ ]+")
#: Names that every rule below leaves as they are (a cache lookup's common case: one match).
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=@,-]{0,118}[A-Za-z0-9_+=@,-]|[A-Za-z0-9]")


def safe_filename(name: str, *, fallback: str = "file") -> str:
    """A file name that is safe on any filesystem, keeping the original name and extension.

    Path separators, control characters and characters Windows forbids become ``_``; leading dots
    are dropped (no hidden files, no ``..``); the result is capped at 120 bytes of UTF-8 with the
    extension kept.

    >>> safe_filename("../../etc/pass wd.JPG")
    'etc_pass wd.JPG'
    """
    if _PLAIN.fullmatch(name):
        return name
    return _cleaned(name, fallback)


def _cleaned(name: str, fallback: str) -> str:
    """:func:`safe_filename`'s rules, applied one by one."""
    # Lone surrogates (from a JSON "\\ud800") cannot be written to a file system: replaced.
    name = name.encode("utf-8", "replace").decode("utf-8")
    name = unicodedata.normalize("NFC", name)
    name = _LEADING.sub("", _UNSAFE.sub("_", name)).rstrip(" .")
    if not name:
        return fallback
    if len(name.encode("utf-8")) <= MAX_FILENAME_BYTES:
        return name
    stem, extension = os.path.splitext(name)
    if len(extension.encode("utf-8")) > 16:
        stem, extension = name, ""
    budget = MAX_FILENAME_BYTES - len(extension.encode("utf-8"))
    stem = stem.encode("utf-8")[:budget].decode("utf-8", "ignore")
    return (stem + extension) or fallback


def _mark(building: Path, out: Path) -> None:
    """Put the marker in the new folder: the previous output's own file where there is one (an
    incremental run leaves unchanged files as they were, inode included), else a new one."""
    with contextlib.suppress(OSError):
        os.link(out / MARKER, building / MARKER, follow_symlinks=False)
        return
    (building / MARKER).write_text(_MARKER_TEXT, encoding="utf-8")


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary name beside ``path`` to write to, renamed onto ``path`` only when the block
    succeeds: a reader never sees half a file, and a failure leaves nothing behind.

    >>> with atomic_file("out/audio/clip.wav") as temporary:  # doctest: +SKIP
    ...     temporary.write_bytes(data)
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.part")
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


@contextlib.contextmanager
def atomic_folder(out: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary folder beside ``out``, moved into place (with :data:`MARKER`) only when the
    block succeeds.

    A failed run leaves ``out`` as it was (the previous output, or nothing). ``out`` is taken by
    its real path: a symbolic link to a folder replaces that folder, never the link. Callers
    check ``out`` first (:func:`ml_data.converters.output.check_output`).
    """
    out = Path(os.path.realpath(out))
    tag = uuid.uuid4().hex[:12]
    building = out.parent / f".{out.name}.building-{tag}"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        building.mkdir()
    except OSError as exc:
        raise OutputError(f"cannot write beside {out}: {exc.strerror or exc}") from None
    try:
        yield building
        _mark(building, out)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    old = out.parent / f".{out.name}.old-{tag}"
    if out.exists():
        out.rename(old)
    building.rename(out)
    shutil.rmtree(old, ignore_errors=True)


__all__ = ["MARKER", "MAX_FILENAME_BYTES", "atomic_file", "atomic_folder", "safe_filename"]
