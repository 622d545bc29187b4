"""One holder at a time among the processes and hosts that share a folder.

Two guards, because either alone can fail: a file lock (filelock) on a file in the folder, which
excludes every other process of this host, and a lease file created exclusively beside it that
names the holder (host, pid) and whose modification time is its heartbeat, refreshed while it
holds. Locks can silently do nothing on network filesystems; the exclusive create still works
there, and a holder that died (its heartbeat silent for ``stale_after`` seconds, on whatever host)
is taken over, as the cache judges its writers (:mod:`ml_data.cache.pending`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import filelock

logger = logging.getLogger(__name__)

#: The holder touches its lease at least this often.
HEARTBEAT_SECONDS = 30.0
#: A lease silent for this long belongs to a holder that died.
STALE_AFTER = 300.0


class FolderLease:
    """``try_acquire`` / ``release`` the folder's ``name`` lease.

    >>> lease = FolderLease(Path("datasets/.p3.training"))  # doctest: +SKIP
    >>> if lease.try_acquire():  # doctest: +SKIP
    ...     try: train()
    ...     finally: lease.release()
    """

    def __init__(
        self,
        folder: Path,
        *,
        name: str = "training",
        stale_after: float = STALE_AFTER,
        heartbeat: float = HEARTBEAT_SECONDS,
    ) -> None:
        self.folder = folder
        self.lease_path = folder / f"{name}.lease"
        self.stale_after = stale_after
        self.heartbeat = min(heartbeat, stale_after / 3)
        self._lock = filelock.FileLock(str(folder / f"{name}.lock"), timeout=0)
        self._token: str | None = None
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def holder(self) -> dict[str, Any] | None:
        """Who holds the lease (host, pid, started), as its file says; None when nobody does."""
        try:
            return json.loads(self.lease_path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
        except (OSError, ValueError):
            return None

    def try_acquire(self) -> bool:
        """Take the lease if nobody alive holds it; False otherwise (never waits)."""
        if self._token is not None:
            raise RuntimeError("this lease is already held")
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except filelock.Timeout:
            return False
        try:
            token = uuid.uuid4().hex
            if not self._create(token):
                self._lock.release()
                return False
        except BaseException:
            self._lock.release()
            raise
        self._token = token
        self._stop.clear()
        self._beat = threading.Thread(target=self._heartbeat, name="ml-data-lease", daemon=True)
        self._beat.start()
        return True

    def release(self) -> None:
        """Give the lease up (its file is removed only while it is still ours)."""
        if self._token is None:
            return
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
        if self._ours():
            with contextlib.suppress(FileNotFoundError):
                self.lease_path.unlink()
        self._token = None
        self._lock.release()

    def _create(self, token: str) -> bool:
        for _attempt in range(2):
            try:
                handle = os.open(self.lease_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if not self._take_over_stale():
                    return False
                continue
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump(
                    {"host": socket.gethostname(), "pid": os.getpid(), "token": token, "started": time.time()}, file
                )
            return True
        return False

    def _take_over_stale(self) -> bool:
        """Move a dead holder's lease aside (one renamer wins); True when the way is free."""
        try:
            silent = time.time() - self.lease_path.stat().st_mtime
        except FileNotFoundError:
            return True
        if silent < self.stale_after:
            return False
        logger.warning(
            "taking over the lease %s: its holder %s is silent for %.0f s", self.lease_path, self.holder(), silent
        )
        aside = self.lease_path.with_name(f"{self.lease_path.name}.stale-{uuid.uuid4().hex[:8]}")
        try:
            os.rename(self.lease_path, aside)
        except FileNotFoundError:
            return True  # another process moved it first; the exclusive create decides
        with contextlib.suppress(OSError):
            aside.unlink()
        return True

    def _ours(self) -> bool:
        holder = self.holder()
        return holder is not None and holder.get("token") == self._token

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.heartbeat):
            if not self._ours():
                logger.warning("the lease %s is no longer this process's", self.lease_path)
                continue
            with contextlib.suppress(OSError):
                os.utime(self.lease_path)


__all__ = ["HEARTBEAT_SECONDS", "STALE_AFTER", "FolderLease"]
