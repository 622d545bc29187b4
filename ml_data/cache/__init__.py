"""The local cache: content-safe, shared between processes, keyed by resource identity."""

from ml_data.cache.naming import cache_key, safe_filename
from ml_data.cache.store import Cache, CacheEntry, CacheInfo, CorruptEntry, PendingFile, PruneReport, VerifyReport

__all__ = [
    "Cache",
    "CacheEntry",
    "CacheInfo",
    "CorruptEntry",
    "PendingFile",
    "PruneReport",
    "VerifyReport",
    "cache_key",
    "safe_filename",
]
