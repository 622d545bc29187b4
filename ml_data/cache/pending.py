"""Downloads in progress: a unique temp file per writer, its running sha256, its heartbeat.

Each writer has its own temp file (named with its host, pid and a random part: locks can silently
do nothing on network filesystems, so no two writers ever share a file). A writer is known to be
alive by its heartbeat, the temp file's modification time, which it refreshes while it writes (at
least every ``HEARTBEAT_SECONDS``); cleaners judge a temp file by that, never by its pid. Once the
bytes are all there, :meth:`PendingFile.commit` checks them and hands the file to the store, which
moves it into place with its metadata.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from ml_data.cache.disk import write_error
from ml_data.cache.naming import cache_key
from ml_data.errors import IncompleteDownload

if TYPE_CHECKING:
    from ml_data.cache.metadata import CacheEntry
    from ml_data.cache.store import Cache

#: A writer refreshes its temp file's mtime at least this often, even when no bytes arrive.
HEARTBEAT_SECONDS = 30.0


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
            raise write_error(cache.root, exc, url=identity) from None
        self._digest = _Digest()
        self.size = 0
        self._beat = time.monotonic()

    def write(self, chunk: bytes) -> None:
        try:
            self._handle.write(chunk)
        except OSError as exc:  # a full disk above all; the caller's ``pending`` removes the file
            raise write_error(self.cache.root, exc, url=self.identity) from None
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
            raise write_error(self.cache.root, exc, url=self.identity) from None
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
            raise write_error(self.cache.root, exc, url=source) from None
        if expected_size is not None and self.size != expected_size:
            raise IncompleteDownload(f"received {self.size} bytes where {expected_size} were announced", url=source)
        sha256 = self._digest.hexdigest()
        if expected_sha256 is not None and sha256 != expected_sha256:
            raise IncompleteDownload("the content does not match its checksum", url=source)
        return self.cache._commit(
            self,
            filename,
            sha256=sha256,
            source=source,
            kind=kind,
            content_type=content_type,
            etag=etag,
            last_modified=last_modified,
        )

    def discard(self) -> None:
        self._digest.close()
        with contextlib.suppress(OSError):
            self._handle.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
