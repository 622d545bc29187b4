"""An entry's metadata: the ``.meta.json`` beside each file, and :class:`CacheEntry`, what it says.

The metadata holds the size, sha256, redacted identity and source, kind, content type, ETag,
Last-Modified, and the created and validated times; its mtime is the entry's last use (for LRU
eviction). An entry is a hit only when its metadata exists and the file's size matches it.
Content types are checked on the way in and out (:mod:`ml_data.media_types`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ml_data.cache.disk import write_error
from ml_data.media_types import media_type
from ml_data.redaction import redact_url

if TYPE_CHECKING:
    from ml_data.cache.layout import Layout

logger = logging.getLogger(__name__)

META_VERSION = 1
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


@dataclass(frozen=True)
class CacheEntry:
    """One complete file in the cache, as its metadata describes it."""

    key: str
    path: Path
    size: int
    sha256: str
    identity: str
    source: str
    kind: str | None
    content_type: str | None
    etag: str | None
    last_modified: str | None
    created_at: float
    #: when the upstream last confirmed this content (download or 304)
    validated_at: float
    #: last time a resolve returned this entry
    last_accessed: float


def new_meta(
    *,
    size: int,
    sha256: str,
    identity: str,
    source: str,
    kind: str | None,
    content_type: str | None,
    etag: str | None,
    last_modified: str | None,
) -> dict:
    """The metadata of a file just downloaded (its ``filename`` is added when it is placed)."""
    now = time.time()
    return {
        "version": META_VERSION,
        "size": size,
        "sha256": sha256,
        "identity": redact_url(identity),
        "source": redact_url(source),
        "kind": kind,
        "content_type": media_type(content_type),
        "etag": etag,
        "last_modified": last_modified,
        "created_at": now,
        "validated_at": now,
    }


def read_meta(layout: Layout, key: str) -> tuple[str, dict, float, int] | None:
    """The file's path, the entry's metadata, its last use and the file's inode, if the file
    matches the metadata.

    Runs on every first hit of a process: plain strings and os-level calls (four system
    calls for the metadata, one stat for the file), no Path or buffered file objects.
    """
    try:
        handle = os.open(layout.meta_path(key), os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        data = os.read(handle, 65536)
        while len(data) % 65536 == 0 and data:  # a long identity: read the rest
            more = os.read(handle, 65536)
            if not more:
                break
            data += more
        accessed = os.fstat(handle).st_mtime
    except OSError:
        return None
    finally:
        os.close(handle)
    try:
        meta = json.loads(data)
        name = meta["filename"]
        if "/" in name or name in ("", ".", ".."):
            return None  # not a name this cache writes
        path = layout.data_path(key, name)
        stat = os.stat(path)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(meta, dict) or meta.get("version") != META_VERSION or stat.st_size != meta.get("size"):
        logger.warning("cache entry %s does not match its metadata; ignoring it", key)
        return None
    return path, meta, accessed, stat.st_ino


def entry_from_meta(key: str, path: Path, meta: dict, *, last_accessed: float) -> CacheEntry:
    """The entry ``meta`` describes; KeyError, TypeError or ValueError when it is not metadata."""
    created = float(meta.get("created_at", 0.0))
    return CacheEntry(
        key=key,
        path=path,
        size=int(meta["size"]),
        sha256=str(meta["sha256"]),
        identity=meta.get("identity", ""),
        source=meta.get("source", ""),
        kind=meta.get("kind"),
        # Checked again on the way out: an older version or a hand edit may have written anything.
        content_type=media_type(meta.get("content_type")),
        etag=meta.get("etag"),
        last_modified=meta.get("last_modified"),
        created_at=created,
        validated_at=float(meta.get("validated_at", created)),
        last_accessed=last_accessed,
    )


def encode_meta(meta: dict) -> bytes:
    """The bytes of a metadata file."""
    return json.dumps(meta, sort_keys=True).encode("utf-8")


def _write_new(path: str, data: bytes, flags: int) -> float:
    """Create ``path`` with ``flags``, write ``data``, and return its mtime (the file system's
    clock, which readers on other hosts see too)."""
    view = memoryview(data)
    handle = os.open(path, flags, 0o644)
    try:
        while view:
            view = view[os.write(handle, view) :]
        return os.fstat(handle).st_mtime
    finally:
        os.close(handle)


def write_aside(path: str, meta: dict, *, root: Path) -> float:
    """Write ``meta`` to the new temp file ``path`` (in the cache at ``root``) and return its
    mtime; on failure (a full disk) the temp file is removed and a :class:`CacheError` raised."""
    try:
        return _write_new(path, encode_meta(meta), _CREATE_FLAGS)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise write_error(root, exc, url=meta.get("source")) from None
