"""Sending a resolved file: by the service itself (Range, ETag, 304) or by a proxy in front
(X-Accel-Redirect), with the same headers either way.

A task's file is whatever its URL answered, and the service runs on an origin of its own: a file
that a browser would run (HTML, SVG, XML, scripts) must never run there, where it could read the
other files the service serves. So every file goes with ``X-Content-Type-Options: nosniff`` (no
guessing a type from the bytes) and ``Content-Security-Policy: sandbox`` (a document without an
origin of its own and without scripts), and only types a browser shows without running anything
(images, audio, video, plain text, CSV, JSON) go ``inline``; every other type, an unknown one
included, is an ``attachment``.
"""

from __future__ import annotations

import os
import re
import unicodedata
from urllib.parse import quote

from flask import Response, current_app, request, send_file

from ml_data.resolvers import LocalFile, OpenedFile, Resolver

#: Whole types a browser displays without running anything in them.
_INLINE_TYPES = frozenset({"text/plain", "text/csv", "text/tab-separated-values", "application/json"})
#: Families displayed as media, except the XML-based types among them (SVG runs scripts).
_INLINE_FAMILIES = frozenset({"image", "audio", "video"})
_TOKEN = r"[a-z0-9!#$&^_.+-]+"
_MEDIA_TYPE = re.compile(rf"{_TOKEN}/{_TOKEN}")
_FALLBACK_TYPE = "application/octet-stream"
#: Sent with every file.
SANDBOX = "sandbox"


def served_type(content_type: str | None) -> str:
    """The Content-Type to send: the file's own when it is a well-formed media type, else
    ``application/octet-stream``."""
    if content_type and _MEDIA_TYPE.fullmatch(_essence(content_type)) and content_type.isprintable():
        return content_type
    return _FALLBACK_TYPE


def is_inline(content_type: str) -> bool:
    """Whether a browser may show a file of this type in place; anything that could run (HTML,
    XHTML, SVG, XML, JavaScript, PDF, unknown types, bytes of no stated type) is an attachment.

    >>> is_inline("image/png"), is_inline("image/svg+xml"), is_inline("text/html; charset=utf-8")
    (True, False, False)
    """
    essence = _essence(content_type)
    family, _, subtype = essence.partition("/")
    if family in _INLINE_FAMILIES:
        return "xml" not in subtype and "svg" not in subtype
    return essence in _INLINE_TYPES


def _essence(content_type: str) -> str:
    """``type/subtype`` without parameters, lower-case."""
    return content_type.split(";", 1)[0].strip().lower()


def file_response(opened: OpenedFile, resolver: Resolver) -> tuple[Response, bool]:
    """The answer for an opened file, and whether it streams from (and will close) ``opened``: an
    X-Accel-Redirect for the proxy in front when one is configured and the file is in the cache,
    else the bytes of the checked descriptor."""
    local = opened.local
    content_type = served_type(local.content_type)
    inline = is_inline(content_type)
    response = _accel_redirect(local, resolver, content_type, inline)
    streaming = response is None
    if response is None:
        response = _stream(opened, content_type, inline)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = SANDBOX
    return response, streaming


def _stream(opened: OpenedFile, content_type: str, inline: bool) -> Response:
    """The bytes of ``opened`` with its size, time and ETag from the ``fstat`` of its descriptor;
    Range and If-None-Match honoured; the file closed when the answer is done."""
    size = opened.stat.st_size
    response = send_file(
        opened.file,
        mimetype=content_type,
        as_attachment=not inline,
        conditional=False,
        etag=_etag(opened),
        last_modified=opened.stat.st_mtime,
        max_age=0,
        download_name=opened.local.path.name,
    )
    response.content_length = size
    response.call_on_close(opened.close)
    response.make_conditional(request, accept_ranges=True, complete_length=size)  # changes it in place
    return response


def _accel_redirect(local: LocalFile, resolver: Resolver, content_type: str, inline: bool) -> Response | None:
    """An empty answer that tells the proxy in front (nginx) to send a cached file itself, from
    its internal location for the cache folder; None when not configured or not a cached file
    (files served in place are outside that location). The proxy passes the headers set here on."""
    location = current_app.extensions.get("ml_data.accel_redirect")
    if not location or not local.cached:
        return None
    root, path = os.fspath(resolver.cache.root) + os.sep, os.fspath(local.path)
    if not path.startswith(root):
        return None
    response = current_app.response_class(status=200)
    response.headers["X-Accel-Redirect"] = location + quote(path[len(root) :].replace(os.sep, "/"), safe="/")
    response.headers["Content-Type"] = content_type
    disposition = "inline" if inline else "attachment"
    response.headers.set("Content-Disposition", disposition, **_filename_options(local.path.name))
    response.headers["Cache-Control"] = "no-cache"
    return response


def _filename_options(name: str) -> dict[str, str]:
    """``filename`` (ASCII) and ``filename*`` (UTF-8) as send_file writes them."""
    try:
        name.encode("ascii")
    except UnicodeEncodeError:
        simple = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
        return {"filename": simple, "filename*": f"UTF-8''{quote(name, safe='!#$&+^`|~')}"}
    return {"filename": name}


def _etag(opened: OpenedFile) -> str:
    """The cache's sha256 for cached files; for files served in place, the size, change time and
    inode of the open descriptor (hashing a large local file on every request would cost more
    than sending it)."""
    if opened.local.cached:
        return opened.local.sha256
    stat = opened.stat
    return f"{stat.st_size:x}-{stat.st_mtime_ns:x}-{stat.st_ino:x}"
