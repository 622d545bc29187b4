"""URL -> verified local file.

:func:`resolve` is the typed API; :func:`get_local_path` is the drop-in replacement for
``label_studio_tools.core.utils.io.get_local_path``. Both parse the URL into a Ref (pure, see
:mod:`ml_data.resolvers.refs`) and hand it to the fetcher registered for its kind
(:mod:`ml_data.resolvers.resolver`). This module only re-exports.
"""

from __future__ import annotations

from ml_data.resolvers.base import LocalFile, OpenedFile
from ml_data.resolvers.bulk import BulkResult, resolve_many
from ml_data.resolvers.compat import get_local_path
from ml_data.resolvers.refs import parse_ref
from ml_data.resolvers.resolver import KNOWN_FETCHERS, Resolver, get_fetcher, open_resource, resolve, resolver_for

__all__ = [
    "KNOWN_FETCHERS",
    "BulkResult",
    "LocalFile",
    "OpenedFile",
    "Resolver",
    "get_fetcher",
    "get_local_path",
    "open_resource",
    "parse_ref",
    "resolve",
    "resolve_many",
    "resolver_for",
]
