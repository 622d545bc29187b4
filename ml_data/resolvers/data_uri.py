"""``data:`` URIs: decoded into the cache, so callers always get a file path."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ml_data.resolvers.base import LocalFile
from ml_data.resolvers.refs import DataRef

if TYPE_CHECKING:
    from ml_data.resolvers.resolver import Resolver


def fetch(ref: DataRef, resolver: Resolver, task_id: int | None) -> LocalFile:
    """Write the decoded payload once; the identity is the hash of the whole URI."""
    found = resolver.sealed(ref)
    if found is not None:
        return found
    cache = resolver.cache
    entry = resolver.cached(ref.identity)
    if entry is None:  # missing, or damaged (and discarded): decoded anew
        payload = ref.decode()
        with cache.locked(ref.identity):
            entry = resolver.cached(ref.identity) or cache.put(
                ref.identity, ref.filename, [payload], source=ref.raw, content_type=ref.media_type
            )
    return LocalFile.from_entry(entry, ref)
