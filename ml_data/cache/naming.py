"""Names inside the cache: keys from identities, and safe file names from remote ones."""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata

MAX_FILENAME_BYTES = 120
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")
_LEADING = re.compile(r"^[._ ]+")
#: Names that every rule below leaves as they are (a cache lookup's common case: one match).
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=@,-]{0,118}[A-Za-z0-9_+=@,-]|[A-Za-z0-9]")


def cache_key(identity: str) -> str:
    """The full sha256 of an identity: the entry's folder name (collisions are not a concern)."""
    return hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()


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
