"""Downloading into the cache: shared by every fetcher that reads over HTTP.

One resolve of a remote identity: look at the cache entry and decide (pure,
:func:`~ml_data.cache.freshness.freshness_action`) whether to reuse it, revalidate it with a
conditional GET (a 304 downloads nothing), or download it. Downloads stream into a pending file
that survives retries: a transfer that breaks off is resumed with a ``Range`` request when the
server supports it (``Accept-Ranges: bytes`` and a validator for ``If-Range``), else restarted.
"""

from __future__ import annotations

import logging
import mimetypes
import re
import time
from typing import TYPE_CHECKING

from ml_data.cache.freshness import Action, freshness_action
from ml_data.deadline import Deadline
from ml_data.errors import (
    IncompleteDownload,
    LabelStudioNotConfigured,
    NotFound,
    ResourceTooLarge,
    UnacceptableResponse,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from ml_data.http import is_identity_encoded
from ml_data.media_types import OCTET_STREAM, media_type
from ml_data.resolvers.base import LocalFile
from ml_data.urls import HttpURL, parse_http_url

if TYPE_CHECKING:
    import requests

    from ml_data.cache import CacheEntry
    from ml_data.resolvers.refs import Ref
    from ml_data.resolvers.resolver import Resolver

logger = logging.getLogger(__name__)

_BROKEN_TRANSFER = (IncompleteDownload, UpstreamUnavailable, UpstreamTimeout)
_DIGITS = re.compile(r"[0-9]+")


def cached_download(resolver: Resolver, ref: Ref, url: HttpURL, *, identity: str | None = None) -> LocalFile:
    """Return the cached file for ``ref``, downloading or revalidating ``url`` when needed.

    Concurrent callers, in this process or others, wait on one per-identity lock, so N callers
    cause one download; the rest find the fresh entry when they get the lock.
    """
    identity = identity or ref.identity
    settings = resolver.settings
    cache = resolver.cache
    started = time.time()
    entry = resolver.cached(identity)
    action = freshness_action(entry, kind=ref.kind, now=started, ttl=settings.cache_ttl, refresh=resolver.refresh)
    if action is Action.REUSE:
        assert entry is not None
        return LocalFile.from_entry(entry, ref)
    if not resolver.allow_downloads:
        if entry is not None:
            return LocalFile.from_entry(entry, ref)
        raise NotFound("not in the cache, and downloads are off (download_resources=False)", url=ref.raw)
    with cache.locked(identity):
        entry = resolver.cached(identity)
        if entry is not None and entry.validated_at >= started:
            return LocalFile.from_entry(entry, ref)  # another caller just did the work
        action = freshness_action(
            entry, kind=ref.kind, now=time.time(), ttl=settings.cache_ttl, refresh=resolver.refresh
        )
        if action is Action.REUSE:
            assert entry is not None
        elif action is Action.REVALIDATE:
            assert entry is not None
            entry = revalidate(resolver, entry, identity, url, kind=ref.kind, filename=ref.filename)
        else:
            entry = download(resolver, identity, url, filename=ref.filename, kind=ref.kind)
    return LocalFile.from_entry(entry, ref)


def revalidate(
    resolver: Resolver, entry: CacheEntry, identity: str, url: HttpURL, *, kind: str, filename: str
) -> CacheEntry:
    """Ask the server whether ``entry`` is current: 304 refreshes its metadata, 200 replaces it."""
    headers = {}
    if entry.etag:
        headers["If-None-Match"] = entry.etag
    if entry.last_modified:
        headers["If-Modified-Since"] = entry.last_modified
    deadline = Deadline.after(resolver.settings.download_deadline)
    response = resolver.http.get(url, headers=headers, deadline=deadline)
    if response.status_code == 304:
        response.close()
        logger.debug("not modified: %s", entry.source)
        return resolver.cache.mark_validated(
            entry, etag=response.headers.get("ETag"), last_modified=response.headers.get("Last-Modified")
        )
    return download(resolver, identity, url, filename=filename, kind=kind, response=response, deadline=deadline)


def download(
    resolver: Resolver,
    identity: str,
    url: HttpURL,
    *,
    filename: str,
    kind: str | None = None,
    response: requests.Response | None = None,
    deadline: Deadline | None = None,
) -> CacheEntry:
    """GET ``url`` into the cache entry of ``identity``, resuming or retrying broken transfers.

    The caller holds the identity's lock. Connection errors and 429/5xx before the body are
    retried by the session; a body that breaks off (reset, truncated, stalled) is retried here up
    to ``settings.retries`` times, from where it stopped when the server allows it. The whole
    download, retries and redirects included, must finish within ``settings.download_deadline``
    seconds (``deadline``, when ``response`` was asked for under it) and stay under
    ``settings.max_file_size`` bytes. Only a 200 is the file (or the 206 a resume asked for).
    """
    settings = resolver.settings
    http = resolver.http
    text = str(url)
    deadline = deadline or Deadline.after(settings.download_deadline)
    response = response if response is not None else http.get(url, deadline=deadline)
    first = response
    total = _checked_full_response(response, text, settings.max_file_size)
    validator = _range_validator(response)
    resumable = (
        total is not None and validator is not None and "bytes" in response.headers.get("Accept-Ranges", "").lower()
    )
    attempt = 0
    with resolver.cache.pending(identity) as pending:
        while True:
            try:
                pending.write_all(
                    http.iter_body(response, text, max_bytes=settings.max_file_size - pending.size, deadline=deadline)
                )
                if total is not None and pending.size != total:
                    raise IncompleteDownload(f"received {pending.size} bytes where {total} were announced", url=text)
                return pending.commit(
                    _filename(filename, first),
                    source=text,
                    expected_size=total,
                    kind=kind,
                    content_type=_content_type(first, filename),
                    etag=first.headers.get("ETag"),
                    last_modified=first.headers.get("Last-Modified"),
                )
            except _BROKEN_TRANSFER as exc:
                if attempt >= settings.retries or deadline.expired():
                    raise
                delay = settings.backoff_factor * (2**attempt)
                attempt += 1
                logger.warning("%s; retrying in %.1fs (%d/%d)", exc, delay, attempt, settings.retries)
                time.sleep(min(delay, max(0.0, deadline.remaining())))
            finally:
                response.close()
            if resumable and 0 < pending.size < (total or 0):
                assert validator is not None
                response = http.get(
                    url, headers={"Range": f"bytes={pending.size}-", "If-Range": validator}, deadline=deadline
                )
                if response.status_code == 206 and _content_range(response) == (pending.size, total):
                    logger.info("resuming at byte %d of %d", pending.size, total)
                    continue
            else:
                response = http.get(url, deadline=deadline)
            # A full body: start over (the server could not resume, or the object changed).
            pending.restart()
            first = response
            total = _checked_full_response(response, text, settings.max_file_size)


def _checked_full_response(response: requests.Response, url: str, max_size: int) -> int | None:
    """The announced length of a whole-file answer; refuses anything but a 200 (a partial answer
    nobody asked for, a 204, a 299...) and one announced larger than the cap."""
    status = response.status_code
    if status != 200:
        response.close()
        if status == 206:
            raise UnacceptableResponse("the server sent part of the file (206) to a request for all of it", url=url)
        raise UnacceptableResponse(
            f"the server answered HTTP {status} {response.reason or ''}".rstrip() + ", not the file (a 200)", url=url
        )
    try:
        total = _content_length(response, url)
    except UnacceptableResponse:
        response.close()
        raise
    if total is not None and total > max_size:
        response.close()
        raise ResourceTooLarge(
            f"the file has {total:,} bytes, more than the {max_size:,}-byte limit (ML_DATA_MAX_FILE_SIZE)", url=url
        )
    return total


def label_studio_url(resolver: Resolver, ls_url: str, *, url: str, target: HttpURL | None = None) -> HttpURL:
    """The URL to ask Label Studio for ``ls_url`` (a path and query), checking that Label Studio
    is configured; ``target`` is the URL itself when the task gave an absolute one.

    A path that already carries the configured URL's path prefix (``/label-studio/data/...``) is
    joined to the origin; any other path is joined to the configured URL.
    """
    settings = resolver.settings
    if target is not None:
        absolute = target
    else:
        base = settings.label_studio_url
        if not base:
            raise LabelStudioNotConfigured(
                "this file is served by Label Studio, but its URL is not set: set LABEL_STUDIO_URL "
                "(e.g. http://label-studio:8080), or mount the files and set "
                "LOCAL_FILES_DOCUMENT_ROOT / ML_DATA_UPLOAD_DIR",
                url=url,
            )
        base_url = parse_http_url(base)
        prefix = base_url.path.rstrip("/")
        path = "/" + ls_url.lstrip("/")
        if prefix and (path == prefix or path.startswith(prefix + "/")):
            prefix = ""
        absolute = parse_http_url(f"{base_url.scheme}://{base_url.netloc}{prefix}{path}")
    credentials = resolver.http.credentials
    if credentials is None or not credentials.applies_to(absolute):
        raise LabelStudioNotConfigured(
            "this file is served by Label Studio, which needs a token: set LABEL_STUDIO_API_KEY "
            "(a legacy token or a personal access token) and LABEL_STUDIO_URL",
            url=url,
        )
    return absolute


def _content_length(response: requests.Response, url: str) -> int | None:
    value = response.headers.get("Content-Length")
    if value is None or "chunked" in response.headers.get("Transfer-Encoding", "").lower():
        return None
    if not is_identity_encoded(response):
        return None  # the length of the compressed body, not of the file
    return parse_content_length(value, url=url)


def parse_content_length(value: str, *, url: str) -> int:
    """A ``Content-Length`` as RFC 9110 writes it: ASCII digits, or a list repeating one such value
    (two identical headers joined). Anything else (``-1``, ``+5``, ``5_000``, ``1e3``, other
    scripts' digits, two lengths) is refused: the body's end would be a guess.

    >>> parse_content_length("1024", url="https://example.com/x")
    1024
    """
    values = {part.strip(" \t") for part in value.split(",")}
    if len(values) != 1 or not _DIGITS.fullmatch(number := values.pop()):
        raise UnacceptableResponse(f"the server sent a malformed Content-Length ({value[:40]!r})", url=url)
    return int(number)


def _range_validator(response: requests.Response) -> str | None:
    """A validator usable in If-Range: a strong ETag, else Last-Modified."""
    etag = response.headers.get("ETag")
    if etag and not etag.startswith("W/"):
        return etag
    return response.headers.get("Last-Modified")


def _content_range(response: requests.Response) -> tuple[int, int | None] | None:
    """(first byte, complete length) of a 206's Content-Range."""
    match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)", response.headers.get("Content-Range", "").strip())
    if not match:
        return None
    return int(match.group(1)), None if match.group(3) == "*" else int(match.group(3))


def _content_type(response: requests.Response, filename: str) -> str | None:
    """The server's media type when it names one (checked), else the file name's."""
    header = media_type(response.headers.get("Content-Type"))
    if header and header != OCTET_STREAM:
        return header
    return mimetypes.guess_type(filename)[0] or header


def _filename(filename: str, response: requests.Response) -> str:
    if filename:
        return filename
    # No name in the URL (e.g. https://host/): name it after the content type.
    content_type = media_type(response.headers.get("Content-Type")) or ""
    return "file" + (mimetypes.guess_extension(content_type) or "")


__all__ = ["cached_download", "download", "label_studio_url", "revalidate"]
