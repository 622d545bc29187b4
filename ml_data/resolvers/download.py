"""The one way a remote file enters the cache, for every remote kind: http(s) links, Label Studio's
files and resolve links, presigned cloud URLs and cloud objects read through their SDK.

One resolve of a remote identity: read its cache entry and decide (pure,
:func:`~ml_data.cache.freshness.freshness_action`, with the kind's row of
:mod:`~ml_data.resolvers.registry`) whether to reuse it, ask whether it is still current, or
download it. Callers in any number of processes wait on one lock per identity, so N callers cause
one download. A download streams into a pending file of its own, bounded by
``ML_DATA_MAX_FILE_SIZE`` and ``ML_DATA_DOWNLOAD_DEADLINE``, checked against what the source
announced (length, MD5), and only then committed; a transfer that breaks off is resumed where the
source can, else restarted, ``ML_DATA_RETRIES`` times at most.

What differs between kinds is only the :class:`Source`: how to ask for the object's version (a
conditional GET, a cloud's object lookup) and how to stream its body (an HTTP answer, an SDK's
stream). :mod:`~ml_data.resolvers.http_source` and :mod:`~ml_data.resolvers.cloud` hold them.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ml_data.cache.freshness import Action, freshness_action
from ml_data.deadline import Deadline
from ml_data.errors import (
    IncompleteDownload,
    NotFound,
    ResourceTooLarge,
    UpstreamHTTPError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from ml_data.media_types import OCTET_STREAM, media_type
from ml_data.resolvers.base import Announced, LocalFile
from ml_data.resolvers.registry import url_kind

if TYPE_CHECKING:
    from ml_data.cache import CacheEntry
    from ml_data.resolvers.refs import Ref
    from ml_data.resolvers.resolver import Resolver

logger = logging.getLogger(__name__)

# A transfer that broke off (or a server error while it ran) is tried again; anything else (a
# refusal, a missing object, a file too large) is final.
_BROKEN_TRANSFER = (IncompleteDownload, UpstreamUnavailable, UpstreamTimeout, UpstreamHTTPError)


@dataclass(frozen=True)
class Current:
    """The source's answer that the cached entry is still the object's current version, with the
    validators it sent along (None: keep the entry's)."""

    etag: str | None = None
    last_modified: str | None = None


class Body(Protocol):
    """One answer carrying the object's bytes (or the rest of them, when resumed)."""

    #: what the source said about the whole object when this transfer began
    announced: Announced

    def chunks(self, max_bytes: int, deadline: Deadline) -> Iterator[bytes]:
        """The bytes, in chunks; ResourceTooLarge past ``max_bytes``, UpstreamTimeout past ``deadline``."""
        ...

    def close(self) -> None: ...


class Source(Protocol):
    """How one object is asked for: the part that differs between remote kinds."""

    #: what errors and the entry's metadata name: the URL asked, or the cloud URI
    location: str

    def check(self, entry: CacheEntry, deadline: Deadline) -> Current | Body:
        """Is ``entry`` still the object's current version? :class:`Current` when it is, else the
        new version's body."""
        ...

    def open(self, deadline: Deadline) -> Body:
        """The whole object."""
        ...

    def retry(self, first: Body, received: int, deadline: Deadline) -> tuple[Body, int]:
        """After ``first``'s transfer broke off with ``received`` bytes kept: the rest of it,
        returned with ``received``, when this source can resume; else the whole object again,
        returned with 0."""
        ...


def cached_download(resolver: Resolver, ref: Ref, source: Source) -> LocalFile:
    """The cached file for ``ref``, downloaded or revalidated through ``source`` when needed.

    Concurrent callers, in this process or others, wait on one per-identity lock, so N callers
    cause one download; the rest find the fresh entry when they get the lock.
    """
    found = resolver.sealed(ref)
    if found is not None:
        return found
    identity = ref.identity
    settings = resolver.settings
    immutable = url_kind(ref.kind).immutable
    started = time.time()
    entry = resolver.cached(identity)
    action = freshness_action(entry, immutable=immutable, now=started, ttl=settings.cache_ttl, refresh=resolver.refresh)
    if action is Action.REUSE:
        assert entry is not None
        return LocalFile.from_entry(entry, ref)
    if not resolver.allow_downloads:
        if entry is not None:
            return LocalFile.from_entry(entry, ref)
        raise NotFound("not in the cache, and downloads are off (download_resources=False)", url=ref.raw)
    with resolver.cache.locked(identity):
        entry = resolver.cached(identity)
        if entry is not None and entry.validated_at >= started:
            return LocalFile.from_entry(entry, ref)  # another caller just did the work
        action = freshness_action(
            entry, immutable=immutable, now=time.time(), ttl=settings.cache_ttl, refresh=resolver.refresh
        )
        if action is not Action.REUSE:
            entry = _update(resolver, ref, source, entry if action is Action.REVALIDATE else None)
    assert entry is not None
    return LocalFile.from_entry(entry, ref)


def _update(resolver: Resolver, ref: Ref, source: Source, entry: CacheEntry | None) -> CacheEntry:
    """Revalidate ``entry`` (a confirmation refreshes its metadata, a new version replaces it), or
    download the object when there is no entry to revalidate. The caller holds the lock."""
    deadline = Deadline.after(resolver.settings.download_deadline)
    if entry is None:
        return _download(resolver, ref, source, source.open(deadline), deadline)
    answer = source.check(entry, deadline)
    if isinstance(answer, Current):
        logger.debug("not modified: %s", entry.source)
        return resolver.cache.mark_validated(entry, etag=answer.etag, last_modified=answer.last_modified)
    return _download(resolver, ref, source, answer, deadline)


def _download(resolver: Resolver, ref: Ref, source: Source, body: Body, deadline: Deadline) -> CacheEntry:
    """Stream ``body`` into the cache entry of ``ref``, resuming or retrying broken transfers.

    The whole download, retries included, must finish before ``deadline`` and stay under
    ``settings.max_file_size`` bytes. A body that breaks off (reset, truncated, stalled, a server
    error) is tried again up to ``settings.retries`` times, from where it stopped when the source
    allows it.
    """
    settings = resolver.settings
    cap = settings.max_file_size
    first = _within_cap(body, cap, source.location)
    attempt = 0
    with resolver.cache.pending(ref.identity) as pending:
        md5 = _md5_of(first)
        while True:
            try:
                for chunk in body.chunks(cap - pending.size, deadline):
                    pending.write(chunk)
                    if md5 is not None:
                        md5.update(chunk)
                announced = first.announced
                if announced.size is not None and pending.size != announced.size:
                    raise IncompleteDownload(
                        f"received {pending.size} bytes where {announced.size} were announced", url=source.location
                    )
                if md5 is not None and md5.hexdigest() != announced.md5:
                    raise IncompleteDownload("the content does not match the object's MD5", url=source.location)
                return pending.commit(
                    _filename(ref.filename, announced),
                    source=source.location,
                    expected_size=announced.size,
                    kind=ref.kind,
                    content_type=_content_type(announced, ref.filename),
                    etag=announced.etag,
                    last_modified=announced.last_modified,
                )
            except _BROKEN_TRANSFER as exc:
                if not _retryable(exc) or attempt >= settings.retries or deadline.expired():
                    raise
                delay = settings.backoff_factor * (2**attempt)
                attempt += 1
                logger.warning("%s; retrying in %.1fs (%d/%d)", exc, delay, attempt, settings.retries)
                time.sleep(min(delay, max(0.0, deadline.remaining())))
            finally:
                body.close()
            body, offset = source.retry(first, pending.size, deadline)
            if offset == 0:
                # The whole object again: start over (the source could not resume, or it changed).
                pending.restart()
                first = _within_cap(body, cap, source.location)
                md5 = _md5_of(first)


def _retryable(exc: Exception) -> bool:
    return not isinstance(exc, UpstreamHTTPError) or exc.status_code >= 500


def _within_cap(body: Body, cap: int, location: str) -> Body:
    """``body``, unless it announces more bytes than the cap (then it is closed and refused)."""
    size = body.announced.size
    if size is not None and size > cap:
        body.close()
        raise ResourceTooLarge(
            f"the file has {size:,} bytes, more than the {cap:,}-byte limit (ML_DATA_MAX_FILE_SIZE)", url=location
        )
    return body


def _md5_of(body: Body) -> hashlib._Hash | None:
    return hashlib.md5(usedforsecurity=False) if body.announced.md5 else None


def bounded(chunks: Iterator[bytes], max_bytes: int, deadline: Deadline, *, url: str) -> Iterator[bytes]:
    """``chunks``, refused past ``max_bytes`` or once ``deadline`` has passed: for bodies whose
    reader does not check these itself (an SDK's stream)."""
    received = 0
    for chunk in chunks:
        received += len(chunk)
        if received > max_bytes:
            raise ResourceTooLarge(f"larger than the {max_bytes:,}-byte limit (ML_DATA_MAX_FILE_SIZE)", url=url)
        if deadline.expired():
            raise deadline.error(url)
        yield chunk


def _content_type(announced: Announced, filename: str) -> str | None:
    """The source's media type when it names one (checked), else the file name's."""
    header = media_type(announced.content_type)
    if header and header != OCTET_STREAM:
        return header
    return mimetypes.guess_type(filename)[0] or header


def _filename(filename: str, announced: Announced) -> str:
    if filename:
        return filename
    # No name in the URL (e.g. https://host/): name it after the content type.
    content_type = media_type(announced.content_type) or ""
    return "file" + (mimetypes.guess_extension(content_type) or "")


__all__ = ["Body", "Current", "Source", "bounded", "cached_download"]
