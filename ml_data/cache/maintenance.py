"""Inspecting and cleaning a cache: scan, verify, prune, evict, clear, and crash leftovers.

Called through :class:`~ml_data.cache.store.Cache`'s methods (``cache.scan()``, ``.verify()``,
``.prune()``, ``.evict()``, ``.clear()``); the functions here take the cache they work on.

Several hosts may share the cache folder, where locks may do nothing and process ids mean nothing
across pid namespaces, so a writer is judged alive by its heartbeat (:mod:`ml_data.cache.pending`):
a temp file, or an entry folder without metadata, is a leftover only once it has been silent for
the cache's ``writer_timeout``, whoever wrote it.

Removal (eviction, pruning, ``--fix``) takes the entry's lock without waiting, so an entry being
written is skipped, and deletes the metadata first. Entries used within the last ``grace_seconds``
are never evicted, and an evicted entry's file is deleted only one grace period later (by the next
prune): a process that was just handed a path can still open it, and once open, POSIX keeps the
file readable even if it is unlinked afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ml_data.cache.locks import try_acquire
from ml_data.hashing import file_sha256

if TYPE_CHECKING:
    from ml_data.cache.metadata import CacheEntry
    from ml_data.cache.store import Cache

#: Temp files and metadata-less entry folders silent for this long belong to a dead writer (on any
#: host); it must be well above the read timeout, the longest a live writer waits for bytes.
DEFAULT_WRITER_TIMEOUT = 15 * 60.0


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


def scan(cache: Cache) -> CacheInfo:
    """Every complete entry, and the leftovers of interrupted writes. Reads metadata only."""
    entries: list[CacheEntry] = []
    leftovers: list[Path] = []
    for shard in _subdirs(cache.layout.objects):
        for directory in _subdirs(shard):
            key = directory.name
            entry = cache._read_entry(key)
            if entry is not None:
                entries.append(entry)
            elif _evicted_recently(cache, key):
                continue  # deleted once its grace period has passed
            elif (_was_evicted(cache, key) or _silent(cache, directory)) and not is_locked(cache, key):
                leftovers.append(directory)
    leftovers.extend(_stale_tmp_files(cache))
    return CacheInfo(root=cache.root, entries=tuple(entries), leftovers=tuple(leftovers), max_size=cache.max_size)


def verify(cache: Cache, *, fix: bool = False) -> VerifyReport:
    """Re-hash every entry against its metadata; with ``fix``, remove the corrupt ones."""
    corrupt: list[CorruptEntry] = []
    checked = removed = 0
    for entry in scan(cache).entries:
        checked += 1
        try:
            actual = file_sha256(entry.path)
        except OSError as exc:
            corrupt.append(CorruptEntry(entry.key, entry.path, f"unreadable: {exc.strerror or exc}"))
            continue
        if actual != entry.sha256:
            corrupt.append(CorruptEntry(entry.key, entry.path, "sha256 does not match the metadata"))
    if fix:
        removed = sum(1 for item in corrupt if remove_entry(cache, item.key, wait=False))
    return VerifyReport(checked=checked, corrupt=tuple(corrupt), removed=removed)


def prune(cache: Cache, *, max_size: int | None = None, older_than: float | None = None) -> PruneReport:
    """Remove least-recently-used entries until the cache holds at most ``max_size`` bytes,
    and entries not used for ``older_than`` seconds; also clean crash leftovers.

    Entries being written (locked) or used within the grace period are kept.
    """
    info = scan(cache)
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
        if not remove_entry(cache, entry.key, wait=False, unused_for=cache.grace_seconds):
            busy += 1
            continue
        removed.append(entry)
        total -= entry.size
    leftovers_removed = clean_leftovers(cache, info.leftovers)
    with cache._estimate_lock:
        cache._estimate = total
    return PruneReport(removed=tuple(removed), kept_busy=busy, leftovers_removed=leftovers_removed)


def evict(cache: Cache) -> PruneReport | None:
    """Bring the cache under its ``max_size`` (least recently used first); None without a limit."""
    if cache.max_size is None:
        return None
    return prune(cache, max_size=cache.max_size)


def clear(cache: Cache) -> PruneReport:
    """Remove every entry that is not being written, and all crash leftovers."""
    info = scan(cache)
    removed = [entry for entry in info.entries if remove_entry(cache, entry.key, wait=False)]
    leftovers_removed = clean_leftovers(cache, info.leftovers)
    with cache._estimate_lock:
        cache._estimate = None
    return PruneReport(
        removed=tuple(removed), kept_busy=len(info.entries) - len(removed), leftovers_removed=leftovers_removed
    )


def account(cache: Cache, size: int) -> None:
    """After a put: evict when this process's estimate of the total crosses the limit."""
    if cache.max_size is None:
        return
    with cache._estimate_lock:
        if cache._estimate is None:
            cache._estimate = scan(cache).size
        else:
            cache._estimate += size
        over = cache._estimate > cache.max_size
    if over:
        evict(cache)


def is_locked(cache: Cache, key: str) -> bool:
    """Whether another holder has the entry's lock right now (a download in progress)."""
    lock = cache._lock(key, 0)
    if not try_acquire(lock):
        return True
    lock.release()
    return False


def remove_entry(cache: Cache, key: str, *, wait: bool, unused_for: float = 0.0, leftover: bool = False) -> bool:
    """Remove an entry under its lock; False if another process holds it (and not ``wait``),
    if it was used within the last ``unused_for`` seconds, or, for a ``leftover``, if it has
    become a complete entry again since it was found (another process downloaded it)."""
    lock = cache._lock(key, cache.lock_timeout if wait else 0)
    if not try_acquire(lock):
        return False
    try:
        cache._memo.pop(key, None)
        meta = Path(cache.layout.meta_path(key))
        if leftover and meta.exists():
            return False
        if unused_for > 0:
            try:
                last_used = meta.stat().st_mtime
            except FileNotFoundError:
                last_used = 0.0
            if time.time() - last_used < unused_for:
                return False
        with contextlib.suppress(FileNotFoundError):
            meta.unlink()
        if unused_for > 0:
            # Evicted: a miss from now on, but the file stays for one more grace period, so a
            # reader that was handed its path just before can still open it. Without the
            # marker (a full disk) it stays until cleaning finds the folder silent.
            with contextlib.suppress(OSError):
                Path(cache.layout.evicted_marker(key)).touch()
        else:
            shutil.rmtree(cache.layout.entry_dir(key), ignore_errors=True)
    finally:
        lock.release()
    return True


def clean_leftovers(cache: Cache, leftovers: Iterable[Path]) -> int:
    """Remove what :func:`scan` found left over; an entry folder only if it is still one."""
    count = 0
    for path in leftovers:
        if path.is_dir():
            if remove_entry(cache, path.name, wait=False, leftover=True):
                count += 1
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                count += 1
    return count


def _was_evicted(cache: Cache, key: str) -> bool:
    return Path(cache.layout.evicted_marker(key)).exists()


def _evicted_recently(cache: Cache, key: str) -> bool:
    try:
        evicted_at = os.stat(cache.layout.evicted_marker(key)).st_mtime
    except FileNotFoundError:
        return False
    return time.time() - evicted_at < cache.grace_seconds


def _silent(cache: Cache, path: Path) -> bool:
    """True when nothing under ``path`` changed for the cache's ``writer_timeout`` seconds."""
    try:
        stamps = [path.stat().st_mtime]
        if path.is_dir():
            stamps += [item.stat(follow_symlinks=False).st_mtime for item in os.scandir(path)]
    except FileNotFoundError:
        return False
    return time.time() - max(stamps) > cache.writer_timeout


def _stale_tmp_files(cache: Cache) -> list[Path]:
    """Temp files whose writer stopped its heartbeat, on this host or another one."""
    return [path for path in _files(cache.layout.tmp) if _silent(cache, path)]


def _subdirs(path: str | Path) -> list[Path]:
    try:
        return [Path(item.path) for item in os.scandir(path) if item.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []


def _files(path: str) -> list[Path]:
    try:
        return [Path(item.path) for item in os.scandir(path) if item.is_file(follow_symlinks=False)]
    except FileNotFoundError:
        return []
