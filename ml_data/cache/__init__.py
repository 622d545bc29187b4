"""The local cache: content-safe, shared between processes, keyed by resource identity."""

from ml_data.cache.maintenance import CacheInfo, CorruptEntry, PruneReport, VerifyReport
from ml_data.cache.metadata import CacheEntry
from ml_data.cache.naming import cache_key
from ml_data.cache.pending import PendingFile
from ml_data.cache.store import Cache

__all__ = [
    "Cache",
    "CacheEntry",
    "CacheInfo",
    "CorruptEntry",
    "PendingFile",
    "PruneReport",
    "VerifyReport",
    "cache_key",
]
