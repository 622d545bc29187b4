"""Deciding what to do with a cache entry: reuse it, revalidate it upstream, or download anew.

Pure: it looks only at the entry's metadata, whether its source can change (the URL kind's row in
:mod:`ml_data.resolvers.registry`) and the clock.
"""

from __future__ import annotations

import enum

from ml_data.cache.metadata import CacheEntry


class Action(enum.Enum):
    REUSE = "reuse"
    REVALIDATE = "revalidate"
    DOWNLOAD = "download"


def freshness_action(
    entry: CacheEntry | None, *, immutable: bool, now: float, ttl: float, refresh: bool = False
) -> Action:
    """What to do for a resolve of an identity whose cache entry is ``entry``.

    Content that can never change under its identity (``immutable``) is reused without asking.
    Anything else is reused for ``ttl`` seconds after it was last confirmed, then revalidated
    (asked whether it changed) when the entry holds a validator, else downloaded again.
    ``refresh`` asks now, whatever the entry's age.

    >>> freshness_action(None, immutable=False, now=0, ttl=60)
    <Action.DOWNLOAD: 'download'>
    """
    if entry is None:
        return Action.DOWNLOAD
    has_validators = bool(entry.etag or entry.last_modified)
    if refresh:
        return Action.REVALIDATE if has_validators else Action.DOWNLOAD
    if immutable or now - entry.validated_at < ttl:
        return Action.REUSE
    return Action.REVALIDATE if has_validators else Action.DOWNLOAD
