"""External ``http(s)://`` links: downloaded into the cache, credentials only to Label Studio's origin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ml_data.resolvers.base import LocalFile
from ml_data.resolvers.download import cached_download
from ml_data.resolvers.http_source import HttpSource
from ml_data.resolvers.refs import HttpRef

if TYPE_CHECKING:
    from ml_data.resolvers.resolver import Resolver


def fetch(ref: HttpRef, resolver: Resolver, task_id: int | None) -> LocalFile:
    """Download once; later calls are cache hits under the URL's canonical identity."""
    return cached_download(resolver, ref, HttpSource(resolver.http, ref.target))
