"""What ml-data knows of each cloud object store: one module per provider, all of one shape
(:class:`~ml_data.resolvers.clouds.base.Provider`), and the table of them.

A provider module holds everything about its cloud: the hosts whose URLs name its objects, the
query parameters that sign its URLs, and its client (the SDK of its extra, imported only when an
object is fetched through it). Importing this package imports no SDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING
from urllib.parse import unquote

from ml_data.resolvers.clouds import azure, gcs, s3
from ml_data.resolvers.clouds.base import Provider

if TYPE_CHECKING:
    from ml_data.urls import HttpURL

#: URI scheme (as Label Studio writes it) -> its provider. The order is the order hosts are tried.
PROVIDERS: Mapping[str, Provider] = MappingProxyType({s3.SCHEME: s3, gcs.SCHEME: gcs, azure.SCHEME: azure})


def object_in_url(target: HttpURL, *, s3_endpoint: HttpURL | None = None) -> tuple[str, str, str] | None:
    """(scheme, bucket, key) when ``target`` is an object URL (signed or public) on its cloud's own
    endpoint; None otherwise, and for a cloud host that names no object.

    Only the host decides: any server can copy a bucket-like path and signature-like parameters
    into its URLs, and must not thereby name (and fill the cache entry of) an object in somebody's
    bucket. ``s3_endpoint`` is the configured S3-compatible endpoint (MinIO, an emulator), the one
    other host whose URLs are S3 objects.
    """
    path = unquote(target.path)
    for scheme, provider in PROVIDERS.items():
        found = provider.object_at(target, path, s3_endpoint if scheme == s3.SCHEME else None)
        if found is not None:
            bucket, key = found
            return (scheme, bucket, key) if bucket and key else None
    return None


def is_signature_param(name: str, present: frozenset[str]) -> bool:
    """True for a query parameter that signs a URL for some cloud (or CloudFront) rather than naming
    a resource; ``present`` is the set of the query's parameter names, all in lower case.

    >>> is_signature_param("X-Amz-Signature", frozenset({"x-amz-signature"}))
    True
    """
    lowered = name.lower()
    return any(provider.signs(lowered, present) for provider in PROVIDERS.values())


__all__ = ["PROVIDERS", "Provider", "is_signature_param", "object_in_url"]
