"""Objects read over HTTP (any http(s) URL, Label Studio's files and resolve links, presigned cloud
URLs): a :class:`~ml_data.resolvers.download.Source` for the one download skeleton.

The version is asked with a conditional GET (``If-None-Match`` / ``If-Modified-Since``: a 304
downloads nothing); the body is a 200's. A transfer that breaks off is resumed with a ``Range``
request when the server supports it (``Accept-Ranges: bytes`` and a validator for ``If-Range``),
else restarted. Only a 200 is the file (or the 206 a resume asked for).
"""

from __future__ import annotations

import email.utils
import logging
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ml_data.errors import LabelStudioNotConfigured, UnacceptableResponse
from ml_data.http import is_identity_encoded
from ml_data.resolvers.base import Announced
from ml_data.resolvers.download import Body, Current
from ml_data.urls import HttpURL, parse_http_url

if TYPE_CHECKING:
    import requests

    from ml_data.cache import CacheEntry
    from ml_data.deadline import Deadline
    from ml_data.http import HttpClient
    from ml_data.resolvers.resolver import Resolver

logger = logging.getLogger(__name__)

_DIGITS = re.compile(r"[0-9]+")
_ENTITY_TAG = re.compile(r'(?:W/)?"[\x21\x23-\x7e\x80-\xff]*"')  # RFC 9110 entity-tag


class HttpBody:
    """One HTTP answer's body; ``announced`` is what the answer that began the transfer said."""

    def __init__(self, http: HttpClient, response: requests.Response, url: str, announced: Announced) -> None:
        self._http = http
        self.response = response
        self._url = url
        self.announced = announced

    def chunks(self, max_bytes: int, deadline: Deadline) -> Iterator[bytes]:
        return self._http.iter_body(self.response, self._url, max_bytes=max_bytes, deadline=deadline)

    def close(self) -> None:
        self.response.close()


class HttpSource:
    """The object at ``url``, asked for with ``http`` (which sends the Label Studio token only to
    Label Studio's origin)."""

    def __init__(self, http: HttpClient, url: HttpURL) -> None:
        self._http = http
        self.url = url
        self.location = str(url)

    def check(self, entry: CacheEntry, deadline: Deadline) -> Current | Body:
        """A conditional GET: 304 confirms the entry, 200 is the new version."""
        headers = {}
        # An entry written through a cloud's SDK may hold a version that is no entity-tag (a GCS
        # generation): only well-formed validators are sent. The date only without an ETag: it
        # counts whole seconds, and some servers answer 304 on it even when the ETag differs.
        if entry.etag and _ENTITY_TAG.fullmatch(entry.etag):
            headers["If-None-Match"] = entry.etag
        elif entry.last_modified and _is_http_date(entry.last_modified):
            headers["If-Modified-Since"] = entry.last_modified
        response = self._http.get(self.url, headers=headers, deadline=deadline)
        if response.status_code == 304 and headers:  # a 304 to a plain GET is refused below
            response.close()
            return Current(etag=response.headers.get("ETag"), last_modified=response.headers.get("Last-Modified"))
        return self._whole(response)

    def open(self, deadline: Deadline) -> Body:
        return self._whole(self._http.get(self.url, deadline=deadline))

    def retry(self, first: Body, received: int, deadline: Deadline) -> tuple[Body, int]:
        """A ``Range`` request for the rest when ``first`` allows one, else a GET for the whole."""
        assert isinstance(first, HttpBody)
        total = first.announced.size
        validator = _range_validator(first.response)
        resumable = (
            total is not None
            and validator is not None
            and "bytes" in first.response.headers.get("Accept-Ranges", "").lower()
        )
        if resumable and 0 < received < (total or 0):
            assert validator is not None
            response = self._http.get(
                self.url, headers={"Range": f"bytes={received}-", "If-Range": validator}, deadline=deadline
            )
            if response.status_code == 206 and _content_range(response) == (received, total):
                logger.info("resuming at byte %d of %d", received, total)
                return HttpBody(self._http, response, self.location, first.announced), received
        else:
            response = self._http.get(self.url, deadline=deadline)
        # A full body (the server could not resume, or the object changed), or a refusal.
        return self._whole(response), 0

    def _whole(self, response: requests.Response) -> HttpBody:
        """``response`` as the whole object; anything but a 200 (a partial answer nobody asked
        for, a 204, a 299...) and a malformed length are refused."""
        status = response.status_code
        if status != 200:
            response.close()
            if status == 206:
                raise UnacceptableResponse(
                    "the server sent part of the file (206) to a request for all of it", url=self.location
                )
            raise UnacceptableResponse(
                f"the server answered HTTP {status} {response.reason or ''}".rstrip() + ", not the file (a 200)",
                url=self.location,
            )
        try:
            size = _content_length(response, self.location)
        except UnacceptableResponse:
            response.close()
            raise
        announced = Announced(
            size=size,
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
            content_type=response.headers.get("Content-Type"),
        )
        return HttpBody(self._http, response, self.location, announced)


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


def label_studio_source(resolver: Resolver, ls_url: str, *, url: str, target: HttpURL | None = None) -> HttpSource:
    """The source for a file Label Studio serves (see :func:`label_studio_url`)."""
    return HttpSource(resolver.http, label_studio_url(resolver, ls_url, url=url, target=target))


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


def _is_http_date(value: str) -> bool:
    try:
        email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return False
    return True


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


__all__ = ["HttpBody", "HttpSource", "label_studio_source", "label_studio_url", "parse_content_length"]
