"""The content-safe local store.

Layout under the cache root::

    objects/<k[:2]>/<k>/<file name>     the file, keeping its original name and extension
    objects/<k[:2]>/<k>/.meta.json      size, sha256, ETag, Last-Modified, redacted source, times;
                                        its mtime is the entry's last access (for LRU eviction)
    locks/<k[:2]>/<k>.lock              per-key cross-process lock (one download for N processes)
    tmp/<k[:16]>.<host>.<pid>.<random>.part    downloads in progress (``.meta``: metadata)

``k`` is the full sha256 of the resource's canonical identity. A file becomes visible only once it
is complete: it is written to a unique temp file (one per process: locks can silently do nothing on
network filesystems, so no two writers ever share a file), its length is checked, its metadata is
written to a temp file too, then the file is moved into place with ``os.replace`` and its metadata
after it. A write the system refuses (a full disk) is a :class:`CacheError` and leaves no temp file
and no file without metadata. An entry counts as a hit only when its metadata exists and the file's
size (or, with ``verify="hash"``, its sha256) matches it, so an interrupted or damaged download is
never served. Content types are checked on the way in and out (:mod:`ml_data.media_types`).

Several hosts or containers may share the cache folder (an NFS volume, one volume mounted into many
ML backend replicas), where locks may do nothing and process ids mean nothing across pid namespaces.
Correctness therefore never rests on a lock: each writer has its own temp file (named with its host,
pid and a random part), the rename commits, the metadata follows. A writer is known to be alive by
its heartbeat, the temp file's modification time, which it refreshes while it writes (at least every
``HEARTBEAT_SECONDS``); cleaning removes a temp file, or an entry folder without metadata, only once
it has been silent for ``writer_timeout`` seconds, whoever wrote it.

Removal (eviction, pruning, ``--fix``) takes the entry's lock without waiting, so an entry being
written is skipped, and deletes the metadata first. Entries used within the last ``grace_seconds``
are never evicted, and an evicted entry's file is deleted only one grace period later (by the next
prune): a process that was just handed a path can still open it, and once open, POSIX keeps the
file readable even if it is unlinked afterwards.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import queue
import re
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import filelock

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

from ml_data.cache.naming import cache_key, safe_filename
from ml_data.errors import CacheError, ConfigurationError, IncompleteDownload
from ml_data.hashing import file_sha256
from ml_data.media_types import media_type
from ml_data.redaction import redact_url

if TYPE_CHECKING:
    from ml_data.config import Settings

logger = logging.getLogger(__name__)

META_NAME = ".meta.json"
#: Marks an entry evicted (metadata gone) whose file is deleted after the grace period.
EVICTED_NAME = ".evicted"
META_VERSION = 1
VERIFY_POLICIES = ("size", "hash")
#: A writer refreshes its temp file's mtime at least this often, even when no bytes arrive.
HEARTBEAT_SECONDS = 30.0
#: Temp files and metadata-less entry folders silent for this long belong to a dead writer (on any
#: host); it must be well above the read timeout, the longest a live writer waits for bytes.
DEFAULT_WRITER_TIMEOUT = 15 * 60.0
#: Names the host in temp file names, so writers on hosts sharing the cache never collide.
HOST_ID = re.sub(r"[^A-Za-z0-9-]+", "-", socket.gethostname())[:40].strip("-") or "host"
#: Entries remembered per process (cleared when full; a miss only costs reading the metadata).
_MEMO_ENTRIES = 100_000
#: errno values that mean the device (or the user's quota) is full.
_NO_SPACE = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
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


@dataclass(frozen=True)
class CorruptEntry:
    key: str
    path: Path
    reason: str


@dataclass(frozen=True)
class CacheInfo:
    """What :meth:`Cache.scan` found: complete entries, and what is left over from crashes."""

    root: Path
    entries: tuple[CacheEntry, ...]
    #: folders of interrupted writes (no valid metadata) and temp files of dead processes
    leftovers: tuple[Path, ...]
    max_size: int | None

    @property
    def size(self) -> int:
        """Bytes in complete entries."""
        return sum(entry.size for entry in self.entries)


@dataclass(frozen=True)
class VerifyReport:
    checked: int
    corrupt: tuple[CorruptEntry, ...]
    removed: int


@dataclass(frozen=True)
class PruneReport:
    removed: tuple[CacheEntry, ...]
    #: entries that should have gone but were in use (locked, or accessed within the grace period)
    kept_busy: int
    leftovers_removed: int

    @property
    def freed(self) -> int:
        return sum(entry.size for entry in self.removed)


class _Digest:
    """sha256 of a stream; past a few MiB it hashes in a thread beside the writes.

    Hashing a large download in line halves its throughput (sha256 costs about as much as the
    network and the disk together); hashlib and file writes release the GIL, so a second thread
    overlaps them. A bounded queue keeps memory at a few chunks whatever the size.
    """

    _THREAD_AFTER = 8 * 1024 * 1024
    _QUEUE_CHUNKS = 8

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self._seen = 0
        self._queue: queue.Queue[bytes | None] | None = None
        self._thread: threading.Thread | None = None

    def update(self, chunk: bytes) -> None:
        self._seen += len(chunk)
        if self._queue is not None:
            self._queue.put(chunk)
        elif self._seen > self._THREAD_AFTER:
            self._queue = queue.Queue(self._QUEUE_CHUNKS)
            self._thread = threading.Thread(target=self._consume, name="ml-data-sha256", daemon=True)
            self._thread.start()
            self._queue.put(chunk)
        else:
            self._sha.update(chunk)

    def _consume(self) -> None:
        assert self._queue is not None
        while (chunk := self._queue.get()) is not None:
            self._sha.update(chunk)

    def close(self) -> None:
        if self._thread is not None and self._queue is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def hexdigest(self) -> str:
        self.close()
        return self._sha.hexdigest()


class _EntryLock:
    """One entry's cross-process lock: ``flock`` on its lock file, polled until ``timeout``.

    Each acquisition opens the file anew, so two acquisitions exclude each other whether they come
    from two processes or two threads of one (flock belongs to the open file). Three system calls
    a download; raises ``filelock.Timeout`` as the portable lock does.
    """

    __slots__ = ("_handle", "path", "timeout")

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._handle: int | None = None

    def acquire(self) -> None:
        assert fcntl is not None
        handle = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        deadline = time.monotonic() + self.timeout
        delay = 0.001
        try:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise filelock.Timeout(self.path) from None
                    time.sleep(delay)
                    delay = min(delay * 2, 0.05)
        except BaseException:
            os.close(handle)
            raise
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            handle, self._handle = self._handle, None
            os.close(handle)  # closing the file releases its lock

    def __enter__(self) -> _EntryLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


class PendingFile:
    """A download in progress: a unique temp file and the running sha256 of what was written.

    Survives retries: a resumed transfer appends to it; a restarted one calls :meth:`restart`.
    """

    def __init__(self, cache: Cache, identity: str) -> None:
        self.cache = cache
        self.identity = identity
        self.key = cache_key(identity)
        self.path = Path(cache._new_tmp_path(self.key, ".part"))
        try:
            self._handle = open(self.path, "xb")
        except OSError as exc:
            raise _write_error(cache.root, exc, url=identity) from None
        self._digest = _Digest()
        self.size = 0
        self._beat = time.monotonic()

    def write(self, chunk: bytes) -> None:
        try:
            self._handle.write(chunk)
        except OSError as exc:  # a full disk above all; the caller's ``pending`` removes the file
            raise _write_error(self.cache.root, exc, url=self.identity) from None
        self._digest.update(chunk)
        self.size += len(chunk)
        if time.monotonic() - self._beat >= HEARTBEAT_SECONDS:
            self.heartbeat()

    def heartbeat(self) -> None:
        """Tell cleaners on any host that this writer is alive (bytes may sit in a buffer)."""
        self._beat = time.monotonic()
        with contextlib.suppress(OSError):
            self._handle.flush()
            os.utime(self.path)

    def write_all(self, chunks: Iterable[bytes]) -> None:
        for chunk in chunks:
            self.write(chunk)

    def restart(self) -> None:
        """Drop what was written (the server could not resume)."""
        try:
            self._handle.seek(0)  # flushes the buffer first, which can meet a full disk
            self._handle.truncate()
        except OSError as exc:
            raise _write_error(self.cache.root, exc, url=self.identity) from None
        self._digest.close()
        self._digest = _Digest()
        self.size = 0

    def commit(
        self,
        filename: str,
        *,
        source: str,
        expected_size: int | None = None,
        expected_sha256: str | None = None,
        kind: str | None = None,
        content_type: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> CacheEntry:
        """Check the length (and checksum, when known) and move the file into place."""
        try:
            self._handle.close()  # writes what is still buffered
        except OSError as exc:
            raise _write_error(self.cache.root, exc, url=source) from None
        if expected_size is not None and self.size != expected_size:
            raise IncompleteDownload(f"received {self.size} bytes where {expected_size} were announced", url=source)
        sha256 = self._digest.hexdigest()
        if expected_sha256 is not None and sha256 != expected_sha256:
            raise IncompleteDownload("the content does not match its checksum", url=source)
        now = time.time()
        meta = {
            "version": META_VERSION,
            "size": self.size,
            "sha256": sha256,
            "identity": redact_url(self.identity),
            "source": redact_url(source),
            "kind": kind,
            "content_type": media_type(content_type),
            "etag": etag,
            "last_modified": last_modified,
            "created_at": now,
            "validated_at": now,
        }
        entry = self.cache._commit(self.key, self.path, filename, meta)
        self.cache._account(entry.size)
        return entry

    def discard(self) -> None:
        self._digest.close()
        with contextlib.suppress(OSError):
            self._handle.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


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
        #: whether per-entry locks are taken to avoid duplicate downloads (never for correctness)
        self.locking = locking
        #: a temp file or metadata-less entry silent this long is a dead writer's leftover
        self.writer_timeout = writer_timeout
        self._objects = os.fspath(self.root / "objects")
        self._locks = os.fspath(self.root / "locks")
        self._tmp = os.fspath(self.root / "tmp")
        self.lock_timeout = lock_timeout
        self.max_size = max_size
        self.grace_seconds = grace_seconds
        # Folders known to exist: creating them again costs a system call per download.
        self._made: set[str | Path] = set()
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

    # -- layout -------------------------------------------------------------------------------

    def entry_dir(self, key: str) -> Path:
        return self.root / "objects" / key[:2] / key

    def _lock_path(self, key: str) -> Path:
        return self.root / "locks" / key[:2] / f"{key}.lock"

    def _tmp_dir(self) -> Path:
        return self.root / "tmp"

    def _new_tmp_path(self, key: str, suffix: str) -> str:
        self._ensure_dir(self._tmp)
        return os.path.join(self._tmp, f"{key[:16]}.{HOST_ID}.{os.getpid()}.{uuid.uuid4().hex}{suffix}")

    def _ensure_dir(self, path: str | Path) -> None:
        if path in self._made:
            return
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as exc:
            raise _write_error(self.root, exc, failed=f"create cache folder {path}") from None
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
        found = self._read_meta(key)
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
            entry = _entry_from_meta(key, Path(path), meta, last_accessed=marked)
        except (KeyError, TypeError, ValueError):
            return None
        if verify == "hash" and file_sha256(entry.path) != entry.sha256:
            logger.warning("cache entry %s is corrupt (sha256 mismatch); not using it", entry.key)
            # Not waiting: the caller may hold this entry's lock itself; a new download replaces it.
            self._remove_entry(entry.key, wait=False)
            return None
        if len(self._memo) >= _MEMO_ENTRIES:
            self._memo.clear()
        self._memo[key] = (entry, inode, marked)
        return entry

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
            os.stat(os.path.join(self._objects, key[:2], key, META_NAME))
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
        found = self._read_meta(key)
        if found is None:
            return None
        path, meta, accessed, _inode = found
        try:
            return _entry_from_meta(key, Path(path), meta, last_accessed=accessed)
        except (KeyError, TypeError, ValueError):
            return None

    def _read_meta(self, key: str) -> tuple[str, dict, float, int] | None:
        """The file's path, the entry's metadata, its last use and the file's inode, if the file
        matches the metadata.

        Runs on every first hit of a process: plain strings and os-level calls (four system
        calls for the metadata, one stat for the file), no Path or buffered file objects.
        """
        directory = os.path.join(self._objects, key[:2], key)
        try:
            handle = os.open(os.path.join(directory, META_NAME), os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
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
            path = os.path.join(directory, name)
            stat = os.stat(path)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not isinstance(meta, dict) or meta.get("version") != META_VERSION or stat.st_size != meta.get("size"):
            logger.warning("cache entry %s does not match its metadata; ignoring it", key)
            return None
        return path, meta, accessed, stat.st_ino

    def _touch(self, key: str) -> bool:
        """Mark a use of the entry (its metadata's mtime); False when the metadata is gone."""
        try:
            os.utime(os.path.join(self._objects, key[:2], key, META_NAME))
        except OSError:
            return False
        return True

    # -- writing ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, identity: str) -> Iterator[None]:
        """Hold the cross-process lock of ``identity`` (to download it once for all processes).

        Without ``locking`` (a file system that does not honour locks), nothing is held: writers
        may then download the same file twice, each into its own temp file, and both are complete.
        """
        key = cache_key(identity)
        if not self.locking:
            yield
            return
        lock = self._lock(key, self.lock_timeout)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise CacheError(
                f"waited {self.lock_timeout:.0f}s for another process to finish downloading "
                f"{redact_url(identity)}; its lock is {self._lock_path(key)}"
            ) from None
        except OSError as exc:  # the lock file cannot be created (a full disk, permissions)
            raise _write_error(self.root, exc, url=identity) from None
        try:
            yield
        finally:
            lock.release()

    def _lock(self, key: str, timeout: float) -> _EntryLock | filelock.FileLock:
        lock_dir = os.path.join(self._locks, key[:2])
        self._ensure_dir(lock_dir)
        lock_path = os.path.join(lock_dir, f"{key}.lock")
        if fcntl is None:  # no flock here (Windows): filelock's portable lock
            return filelock.FileLock(lock_path, timeout=timeout)
        return _EntryLock(lock_path, timeout)

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
        directory = self.entry_dir(entry.key)
        meta = json.loads((directory / META_NAME).read_text("utf-8"))
        meta["validated_at"] = time.time()
        meta["etag"] = etag or meta.get("etag")
        meta["last_modified"] = last_modified or meta.get("last_modified")
        self._write_meta(entry.key, meta)
        updated = self._read_entry(entry.key)
        if updated is None:
            return entry
        self._remember(updated)
        return updated

    def _commit(self, key: str, tmp_path: Path, filename: str, meta: dict) -> CacheEntry:
        """Move a complete temp file into its entry folder, then its metadata beside it.

        What needs disk space (the metadata, the folder) is made before the folder is touched,
        and a failure after that empties it again: a full disk leaves the entry complete or
        absent, never a file without metadata. (A process killed between the two renames leaves
        one, which is a miss and is cleaned once silent for ``writer_timeout``.)
        """
        directory = self.entry_dir(key)
        name = safe_filename(filename)
        meta["filename"] = name
        meta_tmp = self._meta_aside(key, meta)
        touched = committed = False
        try:
            self._ensure_dir(directory.parent)
            try:
                directory.mkdir()
                touched = True
            except FileExistsError:
                touched = True
                # Retire the old metadata first: from here to the new metadata, the entry is a miss.
                with contextlib.suppress(FileNotFoundError):
                    (directory / META_NAME).unlink()
                for stale in directory.iterdir():
                    if stale.name != name:
                        _remove(stale)
            os.replace(tmp_path, directory / name)
            os.replace(meta_tmp, directory / META_NAME)
            committed = True
        except CacheError:
            raise
        except FileNotFoundError:
            # Another host's cleaner removed our temp file or the entry folder (it judged the
            # writer dead): nothing half-done is visible, and the caller may try again.
            raise CacheError(
                f"the download of {redact_url(meta.get('source', ''))} was removed from the cache while it was "
                "being committed (is a cache on another host pruning with a shorter writer timeout?)"
            ) from None
        except OSError as exc:
            raise _write_error(self.root, exc, url=meta.get("source")) from None
        finally:
            if not committed:
                with contextlib.suppress(OSError):
                    os.unlink(meta_tmp)
                if touched:
                    # Never a file without its metadata (ours, or the old one's, retired above;
                    # without locks maybe another writer's, which is then a miss, never wrong);
                    # the folder goes too unless someone has put something else in it.
                    with contextlib.suppress(OSError):
                        os.unlink(directory / name)
                    with contextlib.suppress(OSError):
                        os.rmdir(directory)
        # The metadata's mtime is the use time: take it from the file, whose clock readers see.
        # Without locks another writer of the same entry may be between retiring this metadata
        # and writing its own: the entry is complete either way.
        try:
            accessed = (directory / META_NAME).stat().st_mtime
        except FileNotFoundError:
            accessed = time.time()
        entry = _entry_from_meta(key, directory / name, meta, last_accessed=accessed)
        self._remember(entry)
        return entry

    def _meta_aside(self, key: str, meta: dict) -> str:
        """Write ``meta`` to a temp file of its own and return its path; on failure (a full disk)
        the temp file is removed and a :class:`CacheError` raised."""
        path = self._new_tmp_path(key, ".meta")
        data = memoryview(json.dumps(meta, sort_keys=True).encode("utf-8"))
        try:
            handle = os.open(path, _CREATE_FLAGS, 0o644)
            try:
                while data:
                    data = data[os.write(handle, data) :]
            finally:
                os.close(handle)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise _write_error(self.root, exc, url=meta.get("source")) from None
        return path

    def _write_meta(self, key: str, meta: dict) -> None:
        """Replace an entry's metadata (the old one stays if the new one cannot be written)."""
        meta_tmp = self._meta_aside(key, meta)
        try:
            os.replace(meta_tmp, os.path.join(self._objects, key[:2], key, META_NAME))
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(meta_tmp)
            raise _write_error(self.root, exc, url=meta.get("source")) from None

    # -- inspecting and cleaning --------------------------------------------------------------

    def scan(self) -> CacheInfo:
        """Every complete entry, and the leftovers of interrupted writes. Reads metadata only."""
        entries: list[CacheEntry] = []
        leftovers: list[Path] = []
        objects = self.root / "objects"
        for shard in _subdirs(objects):
            for directory in _subdirs(shard):
                entry = self._read_entry(directory.name)
                if entry is not None:
                    entries.append(entry)
                elif self._evicted_recently(directory):
                    continue  # deleted once its grace period has passed
                elif (self._was_evicted(directory) or self._silent(directory)) and not self._is_locked(directory.name):
                    leftovers.append(directory)
        leftovers.extend(self._stale_tmp_files())
        return CacheInfo(root=self.root, entries=tuple(entries), leftovers=tuple(leftovers), max_size=self.max_size)

    def verify(self, *, fix: bool = False) -> VerifyReport:
        """Re-hash every entry against its metadata; with ``fix``, remove the corrupt ones."""
        corrupt: list[CorruptEntry] = []
        checked = removed = 0
        for entry in self.scan().entries:
            checked += 1
            try:
                actual = file_sha256(entry.path)
            except OSError as exc:
                corrupt.append(CorruptEntry(entry.key, entry.path, f"unreadable: {exc.strerror or exc}"))
                continue
            if actual != entry.sha256:
                corrupt.append(CorruptEntry(entry.key, entry.path, "sha256 does not match the metadata"))
        if fix:
            removed = sum(1 for item in corrupt if self._remove_entry(item.key, wait=False))
        return VerifyReport(checked=checked, corrupt=tuple(corrupt), removed=removed)

    def prune(self, *, max_size: int | None = None, older_than: float | None = None) -> PruneReport:
        """Remove least-recently-used entries until the cache holds at most ``max_size`` bytes,
        and entries not used for ``older_than`` seconds; also clean crash leftovers.

        Entries being written (locked) or used within the grace period are kept.
        """
        info = self.scan()
        now = time.time()
        by_age = sorted(info.entries, key=lambda entry: entry.last_accessed)
        total = info.size
        removed: list[CacheEntry] = []
        busy = 0
        for entry in by_age:
            too_old = older_than is not None and now - entry.last_accessed > older_than
            too_big = max_size is not None and total > max_size
            if not (too_old or too_big):
                continue
            if not self._remove_entry(entry.key, wait=False, unused_for=self.grace_seconds):
                busy += 1
                continue
            removed.append(entry)
            total -= entry.size
        leftovers_removed = self._clean_leftovers(info.leftovers)
        with self._estimate_lock:
            self._estimate = total
        return PruneReport(removed=tuple(removed), kept_busy=busy, leftovers_removed=leftovers_removed)

    def evict(self) -> PruneReport | None:
        """Bring the cache under ``max_size`` (least recently used first); None without a limit."""
        if self.max_size is None:
            return None
        return self.prune(max_size=self.max_size)

    def clear(self) -> PruneReport:
        """Remove every entry that is not being written, and all crash leftovers."""
        info = self.scan()
        removed = [entry for entry in info.entries if self._remove_entry(entry.key, wait=False)]
        leftovers_removed = self._clean_leftovers(info.leftovers)
        with self._estimate_lock:
            self._estimate = None
        return PruneReport(
            removed=tuple(removed), kept_busy=len(info.entries) - len(removed), leftovers_removed=leftovers_removed
        )

    def _account(self, size: int) -> None:
        """After a put: evict when this process's estimate of the total crosses the limit."""
        if self.max_size is None:
            return
        with self._estimate_lock:
            if self._estimate is None:
                self._estimate = self.scan().size
            else:
                self._estimate += size
            over = self._estimate > self.max_size
        if over:
            self.evict()

    def _is_locked(self, key: str) -> bool:
        lock = self._lock(key, 0)
        try:
            lock.acquire()
        except filelock.Timeout:
            return True
        lock.release()
        return False

    def _remove_entry(self, key: str, *, wait: bool, unused_for: float = 0.0, leftover: bool = False) -> bool:
        """Remove an entry under its lock; False if another process holds it (and not ``wait``),
        if it was used within the last ``unused_for`` seconds, or, for a ``leftover``, if it has
        become a complete entry again since it was found (another process downloaded it)."""
        lock = self._lock(key, self.lock_timeout if wait else 0)
        try:
            lock.acquire()
        except filelock.Timeout:
            return False
        try:
            self._memo.pop(key, None)
            directory = self.entry_dir(key)
            if leftover and (directory / META_NAME).exists():
                return False
            if unused_for > 0:
                try:
                    last_used = (directory / META_NAME).stat().st_mtime
                except FileNotFoundError:
                    last_used = 0.0
                if time.time() - last_used < unused_for:
                    return False
            with contextlib.suppress(FileNotFoundError):
                (directory / META_NAME).unlink()
            if unused_for > 0:
                # Evicted: a miss from now on, but the file stays for one more grace period, so a
                # reader that was handed its path just before can still open it. Without the
                # marker (a full disk) it stays until cleaning finds the folder silent.
                with contextlib.suppress(OSError):
                    (directory / EVICTED_NAME).touch()
            else:
                shutil.rmtree(directory, ignore_errors=True)
        finally:
            lock.release()
        return True

    def _was_evicted(self, directory: Path) -> bool:
        return (directory / EVICTED_NAME).exists()

    def _evicted_recently(self, directory: Path) -> bool:
        try:
            evicted_at = (directory / EVICTED_NAME).stat().st_mtime
        except FileNotFoundError:
            return False
        return time.time() - evicted_at < self.grace_seconds

    def _silent(self, path: Path) -> bool:
        """True when nothing under ``path`` changed for ``writer_timeout`` seconds."""
        try:
            stamps = [path.stat().st_mtime]
            if path.is_dir():
                stamps += [item.stat(follow_symlinks=False).st_mtime for item in os.scandir(path)]
        except FileNotFoundError:
            return False
        return time.time() - max(stamps) > self.writer_timeout

    def _stale_tmp_files(self) -> list[Path]:
        """Temp files whose writer stopped its heartbeat, on this host or another one."""
        return [path for path in _files(self._tmp_dir()) if self._silent(path)]

    def _clean_leftovers(self, leftovers: Iterable[Path]) -> int:
        count = 0
        for path in leftovers:
            if path.is_dir():
                if self._remove_entry(path.name, wait=False, leftover=True):
                    count += 1
            else:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    count += 1
        return count


def _entry_from_meta(key: str, path: Path, meta: dict, *, last_accessed: float) -> CacheEntry:
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


def _write_error(root: Path, exc: OSError, *, url: str | None = None, failed: str | None = None) -> CacheError:
    """The typed error for a write into the cache that the system refused, naming the folder
    (``failed`` says what could not be done, when not just writing).

    ``errno`` is kept, so code that looked for ENOSPC in a plain OSError still finds it.
    """
    if exc.errno in _NO_SPACE:
        reason = "no space left on the device"
        message = f"the cache folder {root} is full ({reason}): free space, or set ML_DATA_CACHE_MAX_SIZE"
    else:
        reason = exc.strerror or str(exc)
        message = f"cannot {failed or f'write to the cache folder {root}'}: {reason}"
    error = CacheError(message, url=url)
    error.errno, error.strerror = exc.errno, reason
    return error


def _subdirs(path: Path) -> list[Path]:
    try:
        return [Path(item.path) for item in os.scandir(path) if item.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []


def _files(path: Path) -> list[Path]:
    try:
        return [Path(item.path) for item in os.scandir(path) if item.is_file(follow_symlinks=False)]
    except FileNotFoundError:
        return []


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


__all__ = ["Cache", "CacheEntry", "CacheInfo", "CorruptEntry", "PendingFile", "PruneReport", "VerifyReport"]
