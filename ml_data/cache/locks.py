"""The per-entry cross-process lock: one download for N processes, never needed for correctness.

``flock`` on the entry's lock file where the system has it, filelock's portable lock elsewhere
(Windows). Locks can silently do nothing on network filesystems, so the cache never relies on one
for correctness (every writer has its own temp file); a lock only saves duplicate downloads, and
lets removal skip an entry that is being written.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TypeAlias

import filelock

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

from ml_data.cache.disk import write_error
from ml_data.errors import CacheError
from ml_data.redaction import redact_url


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


#: A per-entry lock, whichever kind this system has.
Lock: TypeAlias = "_EntryLock | filelock.FileLock"


def entry_lock(path: str, timeout: float) -> Lock:
    """The lock on the lock file ``path`` (its folder must exist), not yet acquired."""
    if fcntl is None:  # no flock here (Windows): filelock's portable lock
        return filelock.FileLock(path, timeout=timeout)
    return _EntryLock(path, timeout)


def try_acquire(lock: Lock) -> bool:
    """Acquire ``lock`` if it is free now (made with a timeout of 0); False if someone holds it."""
    try:
        lock.acquire()
    except filelock.Timeout:
        return False
    return True


@contextlib.contextmanager
def held(lock: Lock, *, path: str, identity: str, root: Path) -> Iterator[None]:
    """Hold ``lock`` (the lock file ``path`` of ``identity``) for the ``with`` block.

    Waiting longer than the lock's timeout, or a lock file that cannot be created (a full disk,
    permissions), is a :class:`CacheError` naming the resource and the lock.
    """
    try:
        lock.acquire()
    except filelock.Timeout:
        raise CacheError(
            f"waited {lock.timeout:.0f}s for another process to finish downloading "
            f"{redact_url(identity)}; its lock is {path}"
        ) from None
    except OSError as exc:
        raise write_error(root, exc, url=identity) from None
    try:
        yield
    finally:
        lock.release()
