"""What the S3, GCS and Azure fetchers share: freshness by object version, one download per
identity across processes, an owned temp file, length and checksum checks, bounded retries.

Each cloud module only says how to look an object up (:class:`ObjectInfo`: its version, size and
checksum) and how to stream its bytes; the SDKs' own download helpers are not used because they
write the target in place (a dead transfer leaves a partial file) and retry for minutes.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ml_data.errors import (
    AccessDenied,
    IncompleteDownload,
    NotFound,
    RemoteNotFound,
    UpstreamError,
    UpstreamHTTPError,
)
from ml_data.resolvers.base import LocalFile
from ml_data.resolvers.refs import CloudRef

if TYPE_CHECKING:
    from ml_data.cache import CacheEntry
    from ml_data.resolvers.resolver import Resolver


@dataclass(frozen=True)
class ObjectInfo:
    #: changes whenever the content does: S3/Azure ETag, GCS generation
    version: str | None
    size: int | None
    #: the MD5 the service stores for the object (hex), when it has one
    md5: str | None = None
    content_type: str | None = None
    last_modified: str | None = None


class ObjectStore(Protocol):
    def head(self, ref: CloudRef) -> ObjectInfo:
        """The object's current version, size and checksum; typed errors (RemoteNotFound, ...)."""
        ...

    def chunks(self, ref: CloudRef, info: ObjectInfo) -> Iterator[bytes]:
        """The bytes of exactly that version, in chunks; typed errors."""
        ...


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
        if entry is not None and info.version is not None and entry.etag == info.version:
            return LocalFile.from_entry(cache.mark_validated(entry), ref)
        return LocalFile.from_entry(_download(store, ref, resolver, info), ref)


def _download(store: ObjectStore, ref: CloudRef, resolver: Resolver, info: ObjectInfo) -> CacheEntry:
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
                    etag=info.version,
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


def status_error(ref: CloudRef, code: str, status: int, *, service: str, hint: str) -> UpstreamError:
    """The typed error for a cloud service's error code / HTTP status (shared by the clouds)."""
    if status == 404 or code in ("404", "NoSuchKey", "NoSuchBucket", "NotFound", "BlobNotFound", "ContainerNotFound"):
        return RemoteNotFound(f"no such {service} object ({code or status})", status_code=404, url=ref.uri)
    if status in (401, 403) or code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
        return AccessDenied(
            f"{service} refused access ({code or status}): check {hint}, or pass the task id so the "
            "object is fetched through Label Studio",
            status_code=403,
            url=ref.uri,
        )
    if status in (409, 412) or code in ("PreconditionFailed", "ConditionNotMet"):
        return IncompleteDownload("the object changed during the download", url=ref.uri)
    return UpstreamHTTPError(f"{service} error {code or status}", status_code=status or 500, url=ref.uri)


def translating(translate: Callable[[CloudRef, Exception], UpstreamError]) -> Callable[..., Any]:
    """A caller of SDK methods that turns whatever they raise into a typed error with ``translate``."""

    def call(ref: CloudRef, method: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return method(**kwargs)
        except UpstreamError:
            raise
        except Exception as exc:  # noqa: BLE001 - SDKs raise many unrelated types; all are translated
            raise translate(ref, exc) from None

    return call
