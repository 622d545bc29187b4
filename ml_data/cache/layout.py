"""Where things live in the cache folder: every path under the cache root is built here, once.

Layout under the cache root::

    objects/<k[:2]>/<k>/<file name>     the file, keeping its original name and extension
    objects/<k[:2]>/<k>/.meta.json      size, sha256, ETag, Last-Modified, redacted source, times;
                                        its mtime is the entry's last access (for LRU eviction)
    objects/<k[:2]>/<k>/.evicted        marks an evicted entry whose file goes one grace period later
    locks/<k[:2]>/<k>.lock              per-key cross-process lock (one download for N processes)
    tmp/<k[:16]>.<host>.<pid>.<random>.part    downloads in progress (``.meta``: metadata)

``k`` is the full sha256 of the resource's canonical identity (:func:`ml_data.cache.naming.cache_key`).
Temp names carry the host, the pid and a random part, so writers on hosts sharing the cache folder
(where pids mean nothing across pid namespaces) never share a file.

Paths are plain strings: the metadata path is built on every cache hit, where a ``Path`` object or
``os.path.join`` would cost more than the lookup itself. Keys and the fixed names hold no separator,
so joining them with ``os.sep`` gives exactly what ``os.path.join`` would.
"""

from __future__ import annotations

import os
import re
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path

META_NAME = ".meta.json"
#: Marks an entry evicted (metadata gone) whose file is deleted after the grace period.
EVICTED_NAME = ".evicted"
#: Names the host in temp file names, so writers on hosts sharing the cache never collide.
HOST_ID = re.sub(r"[^A-Za-z0-9-]+", "-", socket.gethostname())[:40].strip("-") or "host"

_SEP = os.sep


@dataclass(frozen=True, slots=True)
class Layout:
    """The paths of a cache rooted at ``root``; pure, no IO.

    >>> Layout(Path("/c")).lock_path("ab12")  # on POSIX; the key is a full sha256 in practice
    '/c/locks/ab/ab12.lock'
    """

    root: Path
    #: the folder of all entries, in shards of the key's first two hex digits
    objects: str = field(init=False)
    #: the folder of the per-entry lock files
    locks: str = field(init=False)
    #: the folder of temp files (downloads and metadata being written)
    tmp: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "objects", os.fspath(self.root / "objects"))
        object.__setattr__(self, "locks", os.fspath(self.root / "locks"))
        object.__setattr__(self, "tmp", os.fspath(self.root / "tmp"))

    def shard_dir(self, key: str) -> str:
        """The folder holding the entry folders whose key starts like ``key``."""
        return f"{self.objects}{_SEP}{key[:2]}"

    def entry_dir(self, key: str) -> str:
        return f"{self.objects}{_SEP}{key[:2]}{_SEP}{key}"

    def meta_path(self, key: str) -> str:
        return f"{self.objects}{_SEP}{key[:2]}{_SEP}{key}{_SEP}{META_NAME}"

    def data_path(self, key: str, name: str) -> str:
        """The file ``name`` in the entry folder (``name`` comes from the metadata: joined by
        ``os.path`` rules, like any name read from disk)."""
        return os.path.join(f"{self.objects}{_SEP}{key[:2]}{_SEP}{key}", name)

    def safe_path(self, key: str, name: str) -> str:
        """The file ``name`` in the entry folder, for a name made by
        :func:`~ml_data.cache.naming.safe_filename` (no separator: plain concatenation)."""
        return f"{self.objects}{_SEP}{key[:2]}{_SEP}{key}{_SEP}{name}"

    def evicted_marker(self, key: str) -> str:
        return f"{self.objects}{_SEP}{key[:2]}{_SEP}{key}{_SEP}{EVICTED_NAME}"

    def lock_dir(self, key: str) -> str:
        return f"{self.locks}{_SEP}{key[:2]}"

    def lock_path(self, key: str) -> str:
        return f"{self.locks}{_SEP}{key[:2]}{_SEP}{key}.lock"

    def temp_path(self, key: str, suffix: str) -> str:
        """A new temp file name for ``key``, unique across hosts, processes and calls."""
        return f"{self.tmp}{_SEP}{key[:16]}.{HOST_ID}.{os.getpid()}.{uuid.uuid4().hex}{suffix}"
