"""The content-safe local store.

Layout under the cache root::

    objects/<k[:2]>/<k>/<file name>     the file, keeping its original name and extension
    objects/<k[:2]>/<k>/.meta.json      size, sha256, ETag, Last-Modified, redacted source, time
    locks/<k[:2]>/<k>.lock              per-key cross-process lock (one download for N processes)
    tmp/<k[:16]>.<pid>.<random>.part    downloads in progress

``k`` is the full sha256 of the resource's canonical identity. A file becomes visible only once it
is complete: it is written to a unique temp file (one per process: locks can silently do nothing on
network filesystems, so no two writers ever share a file), its length is checked, it is moved into
place with ``os.replace``, and only then is its metadata written. An entry counts as a hit only when
its metadata exists and the file's size matches it, so an interrupted download is never served.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import filelock

from ml_data.cache.naming import cache_key, safe_filename
from ml_data.errors import CacheError, IncompleteDownload
from ml_data.redaction import redact_url

logger = logging.getLogger(__name__)

META_NAME = ".meta.json"
META_VERSION = 1


@dataclass(frozen=True)
class CacheEntry:
    """One complete file in the cache, as its metadata describes it."""

    key: str
    path: Path
    size: int
    sha256: str
    identity: str
    source: str
    content_type: str | None
    etag: str | None
    last_modified: str | None
    created_at: float


class Cache:
    """A folder of verified files keyed by resource identity, shared safely between processes.

    >>> cache = Cache(tmp_path)  # doctest: +SKIP
    >>> entry = cache.put("https://h/x.jpg", "x.jpg", [b"..."], source="https://h/x.jpg")  # doctest: +SKIP
    >>> cache.get("https://h/x.jpg").path.read_bytes()  # doctest: +SKIP
    b'...'
    """

    def __init__(self, root: str | os.PathLike[str], *, lock_timeout: float = 600.0) -> None:
        self.root = Path(root)
        self.lock_timeout = lock_timeout

    # -- layout -------------------------------------------------------------------------------

    def entry_dir(self, key: str) -> Path:
        return self.root / "objects" / key[:2] / key

    def _lock_path(self, key: str) -> Path:
        return self.root / "locks" / key[:2] / f"{key}.lock"

    def _tmp_dir(self) -> Path:
        return self.root / "tmp"

    def _ensure_dir(self, path: Path) -> None:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(f"cannot create cache folder {path}: {exc.strerror or exc}") from None

    # -- reading ------------------------------------------------------------------------------

    def get(self, identity: str) -> CacheEntry | None:
        """The complete entry for ``identity``, or None (missing, interrupted or damaged)."""
        return self._read_entry(cache_key(identity))

    def _read_entry(self, key: str) -> CacheEntry | None:
        directory = self.entry_dir(key)
        try:
            meta = json.loads((directory / META_NAME).read_text("utf-8"))
            path = directory / meta["filename"]
            size = path.stat().st_size
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if meta.get("version") != META_VERSION or size != meta.get("size"):
            logger.warning("cache entry %s does not match its metadata; ignoring it", key)
            return None
        return CacheEntry(
            key=key,
            path=path,
            size=size,
            sha256=meta["sha256"],
            identity=meta.get("identity", ""),
            source=meta.get("source", ""),
            content_type=meta.get("content_type"),
            etag=meta.get("etag"),
            last_modified=meta.get("last_modified"),
            created_at=float(meta.get("created_at", 0.0)),
        )

    # -- writing ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, identity: str) -> Iterator[None]:
        """Hold the cross-process lock of ``identity`` (to download it once for all processes)."""
        key = cache_key(identity)
        lock_path = self._lock_path(key)
        self._ensure_dir(lock_path.parent)
        lock = filelock.FileLock(str(lock_path), timeout=self.lock_timeout)
        try:
            with lock:
                yield
        except filelock.Timeout:
            raise CacheError(
                f"waited {self.lock_timeout:.0f}s for another process to finish downloading "
                f"{redact_url(identity)}; its lock is {lock_path}"
            ) from None

    def put(
        self,
        identity: str,
        filename: str,
        chunks: Iterable[bytes],
        *,
        source: str,
        expected_size: int | None = None,
        content_type: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> CacheEntry:
        """Stream ``chunks`` into the entry for ``identity`` and return it once complete.

        Raises :class:`IncompleteDownload` (and leaves nothing behind) when the byte count differs
        from ``expected_size``; any exception from ``chunks`` also leaves nothing behind.
        Callers that may race should hold :meth:`locked`.
        """
        key = cache_key(identity)
        tmp_dir = self._tmp_dir()
        self._ensure_dir(tmp_dir)
        tmp_path = tmp_dir / f"{key[:16]}.{os.getpid()}.{uuid.uuid4().hex}.part"
        digest = hashlib.sha256()
        size = 0
        try:
            with open(tmp_path, "xb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            if expected_size is not None and size != expected_size:
                raise IncompleteDownload(
                    f"received {size} bytes where {expected_size} were announced", url=source
                )
            return self._commit(
                key,
                tmp_path,
                filename,
                {
                    "version": META_VERSION,
                    "size": size,
                    "sha256": digest.hexdigest(),
                    "identity": redact_url(identity),
                    "source": redact_url(source),
                    "content_type": content_type,
                    "etag": etag,
                    "last_modified": last_modified,
                    "created_at": time.time(),
                },
            )
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp_path.unlink()

    def _commit(self, key: str, tmp_path: Path, filename: str, meta: dict) -> CacheEntry:
        directory = self.entry_dir(key)
        self._ensure_dir(directory)
        name = safe_filename(filename)
        meta["filename"] = name
        meta_path = directory / META_NAME
        # Retire the old metadata first: between here and the new metadata, the entry is a miss.
        with contextlib.suppress(FileNotFoundError):
            meta_path.unlink()
        for stale in directory.iterdir():
            if stale.name != name:
                _remove(stale)
        os.replace(tmp_path, directory / name)
        meta_tmp = self._tmp_dir() / f"{key[:16]}.{os.getpid()}.{uuid.uuid4().hex}.meta"
        meta_tmp.write_text(json.dumps(meta, sort_keys=True), "utf-8")
        os.replace(meta_tmp, meta_path)
        entry = self._read_entry(key)
        if entry is None:  # pragma: no cover - only if another process removed it meanwhile
            raise CacheError(f"cache entry {key} vanished right after it was written")
        return entry

    def path_for(self, identity: str) -> Path:
        """The folder an identity's entry lives in (whether or not it exists)."""
        return self.entry_dir(cache_key(identity))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


__all__ = ["Cache", "CacheEntry"]
