"""``s3://``, ``gs://`` and ``azure-blob://`` objects, however they were reached.

A presigned https URL is downloaded directly (without credentials); a Label Studio resolve/presign
link is asked of Label Studio, which redirects to a presigned URL (the token is not sent there) or
proxies the body; a raw URI goes through its cloud's SDK when that SDK is installed and finds
credentials (:mod:`ml_data.resolvers.clouds`), else through Label Studio's resolve endpoint when a
task id is known. Every path shares the cloud identity, so the object is cached once.
"""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING

from ml_data.errors import (
    IncompleteDownload,
    LabelStudioNotConfigured,
    MissingTaskId,
    NotFound,
    RemoteNotFound,
    UpstreamError,
    UpstreamHTTPError,
)
from ml_data.resolvers._remote import cached_download, label_studio_url
from ml_data.resolvers.base import LocalFile
from ml_data.resolvers.clouds import PROVIDERS
from ml_data.resolvers.parse import encode_fileuri
from ml_data.resolvers.refs import CloudRef
from ml_data.resolvers.registry import url_kind

if TYPE_CHECKING:
    from ml_data.cache import CacheEntry
    from ml_data.resolvers.base import Announced
    from ml_data.resolvers.clouds.base import ObjectStore
    from ml_data.resolvers.resolver import Resolver


def fetch(ref: CloudRef, resolver: Resolver, task_id: int | None) -> LocalFile:
    if ref.via == "presigned":
        assert ref.target is not None
        return cached_download(resolver, ref, ref.target)
    if ref.via == "label-studio":
        assert ref.ls_url is not None
        return cached_download(resolver, ref, label_studio_url(resolver, ref.ls_url, url=ref.raw, target=ref.target))
    provider = PROVIDERS[ref.scheme]
    if provider.available(resolver.settings):
        return fetch_object(provider.store(resolver.settings), ref, resolver)
    return fetch_via_label_studio(ref, resolver, task_id)


def fetch_via_label_studio(ref: CloudRef, resolver: Resolver, task_id: int | None) -> LocalFile:
    """Ask Label Studio's ``/tasks/<id>/resolve/`` for an object of one of its storages."""
    extra = url_kind(ref.kind).extra
    if task_id is None:
        raise MissingTaskId(
            f"cannot fetch {ref.scheme}:// objects here: install ml-data[{extra}] and "
            "configure that cloud's credentials, or pass the task id so the object is fetched "
            "through Label Studio's resolve endpoint",
            url=ref.raw,
        )
    if not (resolver.settings.label_studio_url and resolver.settings.api_key):
        raise LabelStudioNotConfigured(
            f"cannot fetch {ref.scheme}:// objects here: set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY "
            "to fetch it through Label Studio, or install "
            f"ml-data[{extra}] and configure that cloud's credentials",
            url=ref.raw,
        )
    path = f"/tasks/{int(task_id)}/resolve/?fileuri={encode_fileuri(ref.uri)}"
    return cached_download(resolver, ref, label_studio_url(resolver, path, url=ref.raw))


def fetch_object(store: ObjectStore, ref: CloudRef, resolver: Resolver) -> LocalFile:
    """The object from the cache; after the TTL its version is looked up, and only a new version
    is downloaded."""
    settings, cache = resolver.settings, resolver.cache
    started = time.time()
    entry = resolver.cached(ref.identity)
    if entry is not None and not resolver.refresh and started - entry.validated_at < settings.cache_ttl:
        return LocalFile.from_entry(entry, ref)
    if not resolver.allow_downloads:
        if entry is not None:
            return LocalFile.from_entry(entry, ref)
        raise NotFound("not in the cache, and downloads are off", url=ref.raw)
    with cache.locked(ref.identity):
        entry = resolver.cached(ref.identity)
        if entry is not None and entry.validated_at >= started:
            return LocalFile.from_entry(entry, ref)
        info = store.head(ref)
        if entry is not None and info.etag is not None and entry.etag == info.etag:
            return LocalFile.from_entry(cache.mark_validated(entry), ref)
        return LocalFile.from_entry(_download(store, ref, resolver, info), ref)


def _download(store: ObjectStore, ref: CloudRef, resolver: Resolver, info: Announced) -> CacheEntry:
    settings = resolver.settings
    attempt = 0
    with resolver.cache.pending(ref.identity) as pending:
        while True:
            md5 = hashlib.md5(usedforsecurity=False) if info.md5 else None
            try:
                for chunk in store.chunks(ref, info):
                    pending.write(chunk)
                    if md5 is not None:
                        md5.update(chunk)
                if info.size is not None and pending.size != info.size:
                    raise IncompleteDownload(
                        f"received {pending.size} bytes where {info.size} were announced", url=ref.uri
                    )
                if md5 is not None and md5.hexdigest() != info.md5:
                    raise IncompleteDownload("the content does not match the object's MD5", url=ref.uri)
                return pending.commit(
                    ref.filename,
                    source=ref.uri,
                    expected_size=info.size,
                    kind=ref.kind,
                    content_type=info.content_type,
                    etag=info.etag,
                    last_modified=info.last_modified,
                )
            except (IncompleteDownload, UpstreamError) as exc:
                if not _retryable(exc) or attempt >= settings.retries:
                    raise
                attempt += 1
                time.sleep(settings.backoff_factor * (2 ** (attempt - 1)))
                pending.restart()


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, RemoteNotFound):
        return False
    return not isinstance(exc, UpstreamHTTPError) or exc.status_code >= 500
