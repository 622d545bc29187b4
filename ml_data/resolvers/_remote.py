"""Downloading into the cache: shared by every fetcher that reads over HTTP."""

from __future__ import annotations

import logging
import mimetypes
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from ml_data.errors import IncompleteDownload, LabelStudioNotConfigured, NotFound, UpstreamUnavailable
from ml_data.resolvers.base import LocalFile

if TYPE_CHECKING:
    import requests

    from ml_data.cache import CacheEntry
    from ml_data.resolvers import Resolver
    from ml_data.resolvers.refs import Ref

logger = logging.getLogger(__name__)


def cached_download(resolver: Resolver, ref: Ref, url: str, *, identity: str | None = None) -> LocalFile:
    """Return the cached file for ``ref``, downloading ``url`` once if it is not cached yet.

    Concurrent callers, in this process or others, wait on one per-identity lock, so N callers
    cause one download; the rest find the entry when they get the lock.
    """
    identity = identity or ref.identity
    cache = resolver.cache
    entry = cache.get(identity)
    if entry is None and not resolver.allow_downloads:
        raise NotFound("not in the cache, and downloads are off (download_resources=False)", url=ref.raw)
    if entry is None:
        with cache.locked(identity):
            entry = cache.get(identity)
            if entry is None:
                entry = download(resolver, identity, url, filename=ref.filename)
    return LocalFile.from_entry(entry, ref)


def download(resolver: Resolver, identity: str, url: str, *, filename: str) -> CacheEntry:
    """GET ``url`` into the cache entry of ``identity``; transfers that break are retried.

    The caller holds the identity's lock. Retries cover a body that breaks off (connection reset
    or truncated): connection errors and 429/5xx before the body are retried by the session.
    """
    settings = resolver.settings
    attempt = 0
    while True:
        response = resolver.http.get(url)
        try:
            return resolver.cache.put(
                identity,
                _filename(filename, response),
                resolver.http.iter_body(response, url),
                source=url,
                expected_size=_content_length(response),
                content_type=_content_type(response, filename),
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
            )
        except (IncompleteDownload, UpstreamUnavailable) as exc:
            if attempt >= settings.retries:
                raise
            delay = settings.backoff_factor * (2**attempt)
            attempt += 1
            logger.warning("%s; retrying in %.1fs (%d/%d)", exc, delay, attempt, settings.retries)
            time.sleep(delay)
        finally:
            response.close()


def label_studio_url(resolver: Resolver, ls_url: str, *, url: str) -> str:
    """The absolute URL for a Label Studio path, checking that Label Studio is configured.

    A path that already carries the configured URL's path prefix (``/label-studio/data/...``) is
    joined to the origin; any other path is joined to the configured URL.
    """
    settings = resolver.settings
    if "://" in ls_url:
        absolute = ls_url
    else:
        base = settings.label_studio_url
        if not base:
            raise LabelStudioNotConfigured(
                "this file is served by Label Studio, but its URL is not set: set LABEL_STUDIO_URL "
                "(e.g. http://label-studio:8080), or mount the files and set "
                "LOCAL_FILES_DOCUMENT_ROOT / ML_DATA_UPLOAD_DIR",
                url=url,
            )
        parts = urlsplit(base)
        prefix = parts.path.rstrip("/")
        if prefix and (ls_url == prefix or ls_url.startswith(prefix + "/")):
            absolute = urlunsplit((parts.scheme, parts.netloc, "", "", "")) + ls_url
        else:
            absolute = base + "/" + ls_url.lstrip("/")
    if resolver.http.auth is None or not resolver.http.auth.applies_to(absolute):
        raise LabelStudioNotConfigured(
            "this file is served by Label Studio, which needs a token: set LABEL_STUDIO_API_KEY "
            "(a legacy token or a personal access token) and LABEL_STUDIO_URL",
            url=url,
        )
    return absolute


def _content_length(response: requests.Response) -> int | None:
    value = response.headers.get("Content-Length")
    if value is None or "chunked" in response.headers.get("Transfer-Encoding", "").lower():
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _content_type(response: requests.Response, filename: str) -> str | None:
    header = response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if header and header != "application/octet-stream":
        return header
    return mimetypes.guess_type(filename)[0] or (header or None)


def _filename(filename: str, response: requests.Response) -> str:
    if filename:
        return filename
    # No name in the URL (e.g. https://host/): name it after the content type.
    content_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip()
    return "file" + (mimetypes.guess_extension(content_type) or "")


__all__ = ["cached_download", "download", "label_studio_url"]
