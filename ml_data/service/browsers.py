"""Requests a browser makes for a page of another site, refused.

A page the user opens can make the browser send a GET to the service without any script reading
the answer: ``<img src="http://127.0.0.1:8765/v1/resources?url=...">`` downloads an allowed URL
into the cache, and with ``serve --no-auth`` nothing else stops it. Browsers say where such a
request comes from: ``Sec-Fetch-Site`` (``cross-site``, ``same-site``; ``same-origin`` or ``none``
when it is the service's own page or an address the user typed) and, on anything but a plain
GET, ``Origin``. Programs (``curl``, ``requests``, ML backends, Label Studio's webhooks) send
neither, and are answered as before.

A link signed by :func:`ml_data.presign` is a credential of its own, made to be handed to
others: a page may show it, so it is not refused here (its signature is checked as usual).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ml_data.service.errors import ApiError
from ml_data.service.hosts import read_host

if TYPE_CHECKING:
    from werkzeug.datastructures import Headers

#: ``Sec-Fetch-Site`` values that mean the page is not the service's own.
_OTHER_SITE = frozenset({"cross-site", "same-site"})
#: An ``Origin`` header as browsers write it: a scheme and an authority, nothing else.
_ORIGIN = re.compile(r"(https?)://([^/?#@\s]+)")


def check_not_cross_site(headers: Mapping[str, str] | Headers, *, public_url: str | None = None) -> None:
    """Raise a 403 :class:`ApiError` when ``headers`` show a request a browser made for another
    site's page: ``Sec-Fetch-Site`` ``cross-site``/``same-site``, or an ``Origin`` that is not the
    service's own (the request's ``Host``, or ``ML_DATA_SERVICE_URL``'s origin).

    >>> check_not_cross_site({"Host": "127.0.0.1:8765", "Origin": "http://127.0.0.1:8765"})
    >>> check_not_cross_site({"Host": "127.0.0.1:8765"})
    """
    site = headers.get("Sec-Fetch-Site", "").strip().lower()
    if site in _OTHER_SITE:
        raise _refused(f"Sec-Fetch-Site: {site}")
    origin = headers.get("Origin")
    if origin is not None and not _is_own_origin(origin.strip(), headers.get("Host"), public_url):
        raise _refused("its Origin is another site's")


def _is_own_origin(origin: str, host: str | None, public_url: str | None) -> bool:
    """``origin`` names this service: the same host and port as the request's ``Host`` (read
    with the origin's scheme, so ports left out mean the same default), or the configured URL's."""
    match = _ORIGIN.fullmatch(origin.lower())
    if match is None:  # "null" (a sandboxed page, a file), or anything that is not an origin
        return False
    scheme, authority = match.groups()
    claimed = read_host(authority, scheme)
    if claimed is None:
        return False
    if host is not None:
        own = read_host(host, scheme)
        if own is not None and (own.host, own.port) == (claimed.host, claimed.port):
            return True
    if public_url:
        configured = _ORIGIN.match(public_url.lower())
        return configured is not None and configured[0] == f"{scheme}://{claimed.netloc}"
    return False


def _refused(why: str) -> ApiError:
    return ApiError(
        403,
        "cross_site_request",
        f"this service does not answer requests a web page of another site makes through a browser ({why}); "
        "call it from a program, or open the link itself",
    )
