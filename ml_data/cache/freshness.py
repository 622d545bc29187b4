"""Deciding what to do with a cache entry: reuse it, revalidate it upstream, or download anew.

Pure: it looks only at the entry's metadata, the kind of source and the clock.
"""

from __future__ import annotations

import enum

from ml_data.cache.metadata import CacheEntry

#: Sources whose content never changes under the same identity: Label Studio uploads (unique
#: names), cloud objects (the identity names the object; SDK fetchers add its version), and data:
#: URIs (the identity is their hash).
IMMUTABLE_KINDS = frozenset({"upload", "s3", "gcs", "azure", "data_uri"})


class Action(enum.Enum):
    REUSE = "reuse"
    REVALIDATE = "revalidate"
    DOWNLOAD = "download"


def freshness_action(entry: CacheEntry | None, *, kind: str, now: float, ttl: float, refresh: bool = False) -> Action:
    """What to do for a resolve of an identity whose cache entry is ``entry``.

    >>> freshness_action(None, kind="http", now=0, ttl=60)
    <Action.DOWNLOAD: 'download'>
    """
    if entry is None:
        return Action.DOWNLOAD
    has_validators = bool(entry.etag or entry.last_modified)
    if refresh:
        return Action.REVALIDATE if has_validators else Action.DOWNLOAD
    if kind in IMMUTABLE_KINDS or now - entry.validated_at < ttl:
        return Action.REUSE
    return Action.REVALIDATE if has_validators else Action.DOWNLOAD
