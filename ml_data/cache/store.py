"""The content-safe local store: :class:`Cache`, getting, putting and committing entries.

A file becomes visible only once it is complete: written to a temp file of its own
(:mod:`~ml_data.cache.pending`), its length checked, its metadata written aside too
(:mod:`~ml_data.cache.metadata`), then the file is moved into place with ``os.replace`` and its
metadata after it. A write the system refuses (a full disk) is a :class:`CacheError` and leaves no
temp file and no file without metadata. An entry is a hit only when its metadata exists and the
file's size (or, with ``verify="hash"``, its sha256) matches it, so an interrupted or damaged
download is never served. Several hosts may share the cache folder, so correctness never rests on
a lock (:mod:`~ml_data.cache.locks`): each writer has its own temp file, the rename commits, the
metadata follows. Paths: :mod:`~ml_data.cache.layout`; the rename into place:
:mod:`~ml_data.cache.commit`; cleaning: :mod:`~ml_data.cache.maintenance`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from ml_data.cache import maintenance
from ml_data.cache.commit import move_into_place
from ml_data.cache.disk import write_error
from ml_data.cache.layout import Layout
from ml_data.cache.locks import Lock, entry_lock, held
from ml_data.cache.maintenance import DEFAULT_WRITER_TIMEOUT, CacheInfo, PruneReport, VerifyReport
from ml_data.cache.metadata import (
    CacheEntry,
    entry_from_meta,
    new_meta,
    read_meta,
    write_aside,
)
from ml_data.cache.naming import cache_key
from ml_data.cache.pending import PendingFile
from ml_data.cache.seal import SealedHit, seal, seal_time
from ml_data.errors import ConfigurationError
from ml_data.hashing import file_sha256
from ml_data.media_types import media_type

if TYPE_CHECKING:
    from ml_data.config import Settings

logger = logging.getLogger(__name__)

VERIFY_POLICIES = ("size", "hash")
#: Entries remembered per process (cleared when full; a miss only costs reading the metadata).
_MEMO_ENTRIES = 100_000


class Cache:
    """A folder of verified files keyed by resource identity, shared safely between processes.

    >>> cache = Cache(tmp_path)  # doctest: +SKIP
    >>> entry = cache.put("https://h/x.jpg", "x.jpg", [b"..."], source="https://h/x.jpg")  # doctest: +SKIP
    >>> cache.get("https://h/x.jpg").path.read_bytes()  # doctest: +SKIP
    b'...'
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        lock_timeout: float = 600.0,
        max_size: int | None = None,
        grace_seconds: float = 60.0,
        writer_timeout: float = DEFAULT_WRITER_TIMEOUT,
        locking: bool = True,
    ) -> None:
        self.root = Path(root)
        #: where every file of this cache lives
        self.layout = Layout(self.root)
        #: whether per-entry locks are taken to avoid duplicate downloads (never for correctness)
        self.locking = locking
        #: a temp file or metadata-less entry silent this long is a dead writer's leftover
        self.writer_timeout = writer_timeout
        self.lock_timeout = lock_timeout
        self.max_size = max_size
        self.grace_seconds = grace_seconds
        # Folders known to exist: creating them again costs a system call per download.
        self._made: set[str] = set()
        # Entries this process has read or written: key -> (entry, inode of its file, last touch).
        self._memo: dict[str, tuple[CacheEntry, int, float]] = {}
        # Bytes written by this process since the last full scan: eviction scans only when the
        # estimate crosses the limit, not on every put.
        self._estimate: int | None = None
        self._estimate_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Cache:
        """The cache that ``settings`` describe (folder, limit, lock timeout, eviction grace)."""
        return cls(
            settings.cache_dir,
            lock_timeout=settings.lock_timeout,
            max_size=settings.cache_max_size,
            grace_seconds=settings.cache_eviction_grace,
            writer_timeout=settings.cache_writer_timeout,
            locking=settings.cache_locking,
        )

    def entry_dir(self, key: str) -> Path:
        return Path(self.layout.entry_dir(key))

    def _new_tmp_path(self, key: str, suffix: str) -> str:
        self._ensure_dir(self.layout.tmp)
        return self.layout.temp_path(key, suffix)

    def _ensure_dir(self, path: str) -> None:
        if path in self._made:
            return
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as exc:
            raise write_error(self.root, exc, failed=f"create cache folder {path}") from None
        self._made.add(path)

    # -- reading ------------------------------------------------------------------------------

    def get(self, identity: str, *, verify: str = "size") -> CacheEntry | None:
        """The complete entry for ``identity``, or None (missing, interrupted or damaged).

        ``verify="hash"`` re-hashes the file: a damaged entry is removed and None returned, so a
        corrupt file is never handed out. A hit counts as an access (for LRU eviction).
        """
        if verify not in VERIFY_POLICIES:
            raise ConfigurationError(f"verify must be one of {VERIFY_POLICIES}, got {verify!r}")
        key = cache_key(identity)
        if verify == "size":
            remembered = self._remembered(key)
            if remembered is not None:
                return remembered
        found = read_meta(self.layout, key)
        if found is None:
            self._memo.pop(key, None)
            return None
        path, meta, marked, inode = found
        now = time.time()
        if now - marked >= self.grace_seconds / 4:
            # The use is marked after the read, and only when the last mark is getting old (a
            # mark is a metadata write). An evictor re-checks the use time under the entry's lock
            # and removes the metadata first: either it sees this mark and keeps the entry, or
            # the metadata is gone and marking it fails (a miss). An entry marked less than a
            # quarter of the grace period ago is not evicted for three quarters of it.
            if not self._touch(key):
                self._memo.pop(key, None)
                return None
            marked = now
        try:
            entry = entry_from_meta(key, Path(path), meta, last_accessed=marked)
        except (KeyError, TypeError, ValueError):
            return None
        if verify == "hash" and file_sha256(entry.path) != entry.sha256:
            logger.warning("cache entry %s is corrupt (sha256 mismatch); not using it", entry.key)
            # Not waiting: the caller may hold this entry's lock itself; a new download replaces it.
            maintenance.remove_entry(self, entry.key, wait=False)
            return None
        if len(self._memo) >= _MEMO_ENTRIES:
            self._memo.clear()
        self._memo[key] = (entry, inode, marked)
        return entry

    def sealed(self, identity: str, name: str) -> SealedHit | None:
        """The entry for ``identity`` if its file, named ``name`` (a :func:`safe_filename`),
        holds its seal (:mod:`~ml_data.cache.seal`) and its metadata exists: two ``stat`` calls,
        the metadata's content unread. None means "look the full way" (:meth:`get`), not a miss.

        The metadata must exist: eviction and an interrupted commit remove it first, so neither
        is handed out, and its mtime is the use mark, renewed as :meth:`get` does.
        """
        key = cache_key(identity)
        path = self.layout.safe_path(key, name)
        try:
            info = os.stat(path)
            marked = os.stat(self.layout.meta_path(key)).st_mtime
        except OSError:
            return None
        validated = seal_time(info)
        if validated is None:
            return None
        if time.time() - marked >= self.grace_seconds / 4 and not self._touch(key):
            return None  # evicted meanwhile
        return SealedHit(key, path, info.st_size, validated)

    def details(self, key: str, path: str) -> tuple[str | None, str] | None:
        """The content type and sha256 that the metadata of entry ``key`` records for the file
        at ``path``; None when the metadata is gone, unreadable, or describes another file (a
        rewrite in progress): callers then fall back to what the file itself says."""
        found = read_meta(self.layout, key)
        if found is None or found[0] != path:
            return None
        meta = found[1]
        sha256 = meta.get("sha256")
        if not isinstance(sha256, str):
            return None
        return media_type(meta.get("content_type")), sha256

    def _remembered(self, key: str) -> CacheEntry | None:
        """A hit from this process's memo, checked with a stat of the file and of its metadata.

        The file is replaced (new inode) whenever the entry is rewritten, and removed after its
        metadata, so an unchanged inode and size mean the entry is still the one remembered.
        Uses are still recorded, at most every quarter of the eviction grace period, which keeps
        the entry safely inside that period.
        """
        memo = self._memo.get(key)
        if memo is None:
            return None
        entry, inode, touched = memo
        try:
            stat = os.stat(entry.path)
            # The metadata must still be there: an evicted entry keeps its file for a grace
            # period, for readers already holding its path, but must not be handed out again.
            os.stat(self.layout.meta_path(key))
        except OSError:
            self._memo.pop(key, None)
            return None
        if stat.st_ino != inode or stat.st_size != entry.size:
            self._memo.pop(key, None)
            return None
        now = time.time()
        if now - touched >= self.grace_seconds / 4:
            self._touch(key)
            self._memo[key] = (entry, inode, now)
        return entry

    def _remember(self, entry: CacheEntry) -> None:
        if len(self._memo) >= _MEMO_ENTRIES:
            self._memo.clear()
        try:
            inode = os.stat(entry.path).st_ino
        except OSError:
            return
        self._memo[entry.key] = (entry, inode, time.time())

    def _read_entry(self, key: str) -> CacheEntry | None:
        found = read_meta(self.layout, key)
        if found is None:
            return None
        path, meta, accessed, _inode = found
        try:
            return entry_from_meta(key, Path(path), meta, last_accessed=accessed)
        except (KeyError, TypeError, ValueError):
            return None

    def _touch(self, key: str) -> bool:
        """Mark a use of the entry (its metadata's mtime); False when the metadata is gone."""
        try:
            os.utime(self.layout.meta_path(key))
        except OSError:
            return False
        return True

    # -- writing ------------------------------------------------------------------------------

    def locked(self, identity: str) -> AbstractContextManager[None]:
        """Hold the cross-process lock of ``identity`` (to download it once for all processes).

        Without ``locking`` (a file system that does not honour locks), nothing is held: writers
        may then download the same file twice, each into its own temp file, and both are complete.
        """
        if not self.locking:
            return contextlib.nullcontext()
        key = cache_key(identity)
        lock = self._lock(key, self.lock_timeout)
        return held(lock, path=self.layout.lock_path(key), identity=identity, root=self.root)

    def _lock(self, key: str, timeout: float) -> Lock:
        """The entry's lock, not yet acquired (its folder made)."""
        self._ensure_dir(self.layout.lock_dir(key))
        return entry_lock(self.layout.lock_path(key), timeout)

    @contextlib.contextmanager
    def pending(self, identity: str) -> Iterator[PendingFile]:
        """A :class:`PendingFile` for ``identity``, removed unless committed."""
        pending = PendingFile(self, identity)
        try:
            yield pending
        finally:
            pending.discard()

    def put(
        self,
        identity: str,
        filename: str,
        chunks: Iterable[bytes],
        *,
        source: str,
        expected_size: int | None = None,
        kind: str | None = None,
        content_type: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> CacheEntry:
        """Stream ``chunks`` into the entry for ``identity`` and return it once complete.

        Raises :class:`IncompleteDownload` (and leaves nothing behind) when the byte count differs
        from ``expected_size``; any exception from ``chunks`` also leaves nothing behind.
        Callers that may race should hold :meth:`locked`.
        """
        with self.pending(identity) as pending:
            pending.write_all(chunks)
            return pending.commit(
                filename,
                source=source,
                expected_size=expected_size,
                kind=kind,
                content_type=content_type,
                etag=etag,
                last_modified=last_modified,
            )

    def mark_validated(
        self, entry: CacheEntry, *, etag: str | None = None, last_modified: str | None = None
    ) -> CacheEntry:
        """Record that the upstream confirmed the entry is current (a 304): no download needed."""
        meta = json.loads(Path(self.layout.meta_path(entry.key)).read_text("utf-8"))
        meta["validated_at"] = time.time()
        meta["etag"] = etag or meta.get("etag")
        meta["last_modified"] = last_modified or meta.get("last_modified")
        self._write_meta(entry.key, meta)
        with contextlib.suppress(OSError):
            # The file's seal carries the new time to stat-only lookups; without it (refused),
            # they read the metadata, which already has it.
            seal(os.fspath(entry.path), meta["validated_at"], entry.size)
        updated = self._read_entry(entry.key)
        if updated is None:
            return entry
        self._remember(updated)
        return updated

    def _commit(
        self,
        pending: PendingFile,
        filename: str,
        *,
        sha256: str,
        source: str,
        kind: str | None,
        content_type: str | None,
        etag: str | None,
        last_modified: str | None,
    ) -> CacheEntry:
        """Take a checked download from :meth:`PendingFile.commit`: describe it in metadata, move
        it into place, and evict if the cache has grown past its limit."""
        meta = new_meta(
            size=pending.size,
            sha256=sha256,
            identity=pending.identity,
            source=source,
            kind=kind,
            content_type=content_type,
            etag=etag,
            last_modified=last_modified,
        )
        entry = move_into_place(self, pending.key, pending.path, filename, meta)
        maintenance.account(self, entry.size)
        return entry

    def _meta_aside(self, key: str, meta: dict) -> str:
        """Write ``meta`` to a temp file of its own and return its path (see :func:`write_aside`)."""
        path = self._new_tmp_path(key, ".meta")
        write_aside(path, meta, root=self.root)
        return path

    def _write_meta(self, key: str, meta: dict) -> None:
        """Replace an entry's metadata (the old one stays if the new one cannot be written)."""
        meta_tmp = self._meta_aside(key, meta)
        try:
            os.replace(meta_tmp, self.layout.meta_path(key))
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(meta_tmp)
            raise write_error(self.root, exc, url=meta.get("source")) from None

    # -- inspecting and cleaning (ml_data.cache.maintenance) -----------------------------------

    def scan(self) -> CacheInfo:
        """Every complete entry, and the leftovers of interrupted writes. Reads metadata only."""
        return maintenance.scan(self)

    def verify(self, *, fix: bool = False) -> VerifyReport:
        """Re-hash every entry against its metadata; with ``fix``, remove the corrupt ones."""
        return maintenance.verify(self, fix=fix)

    def prune(self, *, max_size: int | None = None, older_than: float | None = None) -> PruneReport:
        """Remove least-recently-used entries until the cache holds at most ``max_size`` bytes,
        and entries not used for ``older_than`` seconds; also clean crash leftovers.

        Entries being written (locked) or used within the grace period are kept.
        """
        return maintenance.prune(self, max_size=max_size, older_than=older_than)

    def evict(self) -> PruneReport | None:
        """Bring the cache under ``max_size`` (least recently used first); None without a limit."""
        return maintenance.evict(self)

    def clear(self) -> PruneReport:
        """Remove every entry that is not being written, and all crash leftovers."""
        return maintenance.clear(self)


__all__ = ["Cache"]
