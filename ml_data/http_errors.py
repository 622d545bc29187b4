"""How HTTP answers and transport failures become typed :mod:`ml_data.errors` exceptions.

Two doors, one each: :func:`raise_for_response` for an answer whose status is not a success, and
:func:`translate_exception` for a requests/urllib3 exception. Messages say *why* in a few words
(connection refused, name not resolved, timed out connecting, the deadline...) and never repeat
the exception text of requests or urllib3, which carries the full URL with its query (tokens,
signatures) and the pool's internals; the URL is given to the error, which redacts it.
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
from collections.abc import Callable, Iterator

import requests
from urllib3 import exceptions as urllib3_exceptions

from ml_data import errors
from ml_data.deadline import Deadline, DeadlinePassed

#: The redirects HttpClient follows; any other 3xx is an answer it cannot use.
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


def is_success(status: int, *, conditional: bool = False) -> bool:
    """A 2xx, or a 304 to a conditional request: the answers a caller is handed.

    requests' ``ok`` also passes a 300 or 305 that was not followed, a 304 nobody asked for, and
    anything from 600 to 999: none of those is what was asked for.
    """
    return 200 <= status <= 299 or (status == 304 and conditional)


def raise_for_response(response: requests.Response, url: str, *, hint: str = "", conditional: bool = False) -> None:
    """Raise the typed error for a non-success response (the one place statuses become errors)."""
    status = response.status_code
    if is_success(status, conditional=conditional):
        return
    reason = f"HTTP {status} {response.reason or ''}".strip()
    hint = hint or _status_hint(status, has_location="Location" in response.headers)
    message = f"{reason}{': ' + hint if hint else ''}"
    error_type: type[errors.UpstreamHTTPError] = errors.UpstreamHTTPError
    if status == 401:
        error_type = errors.AuthenticationFailed
    elif status == 403:
        error_type = errors.AccessDenied
    elif status in (404, 410):
        error_type = errors.RemoteNotFound
    raise error_type(message, status_code=status, url=url, response=response)


def _status_hint(status: int, *, has_location: bool) -> str:
    """Why a status below 400 (or past 599) is not a usable answer."""
    if status in REDIRECT_STATUSES and not has_location:
        return "a redirect without a Location"
    if status == 304:
        return "Not Modified, to a request that was not conditional"
    if 300 <= status <= 399:
        return "not a redirect that is followed (only 301, 302, 303, 307 and 308 are)"
    if status < 200 or status > 599:
        return "not a valid final status"
    return ""


def raise_for_transfer_coding(response: requests.Response, url: str) -> None:
    """Refuse a body framed in anything but plain bytes or ``chunked``.

    Nothing else was offered (no ``TE`` header is sent), and neither http.client nor urllib3
    undoes e.g. ``gzip, chunked``: they would hand over the chunk framing as if it were the file.
    """
    coding = response.headers.get("Transfer-Encoding")
    if coding is None or [part.strip().lower() for part in coding.split(",")] == ["chunked"]:
        return
    response.close()
    raise errors.UnacceptableResponse(
        f"the server framed the body with a transfer coding that was not offered (Transfer-Encoding: "
        f"{coding[:100]}); only chunked is read",
        url=url,
    )


def translate_exception(exc: BaseException, url: str, *, deadline: Deadline | None = None) -> errors.UpstreamError:
    """Turn a requests/urllib3 exception into the matching typed error, saying why it failed.

    A timeout once ``deadline`` has passed is the deadline's error: the call was cut short by it.
    """
    if isinstance(exc, errors.UpstreamError):
        return exc
    causes = list(_causes(exc))
    refused = any(isinstance(cause, urllib3_exceptions.NewConnectionError) for cause in causes)
    timed_out = not refused and any(
        isinstance(cause, requests.Timeout | urllib3_exceptions.TimeoutError | TimeoutError) for cause in causes
    )
    if timed_out:
        if deadline is not None and (deadline.expired() or any(isinstance(c, DeadlinePassed) for c in causes)):
            return deadline.error(url)
        return errors.UpstreamTimeout(failure_reason(exc), url=url)
    invalid_header = next((c for c in causes if isinstance(c, urllib3_exceptions.InvalidHeader)), None)
    if invalid_header is not None:
        # e.g. two different Content-Lengths: urllib3's message names the header, not the URL.
        return errors.UnacceptableResponse(f"the server sent a malformed header ({str(invalid_header)[:120]})", url=url)
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError, urllib3_exceptions.ProtocolError)):
        return errors.IncompleteDownload(f"the connection broke during the transfer ({failure_reason(exc)})", url=url)
    if isinstance(exc, requests.ConnectionError | ConnectionError | urllib3_exceptions.HTTPError):
        return errors.UpstreamUnavailable(f"cannot reach the server: {failure_reason(exc)}", url=url)
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return errors.UpstreamError(f"invalid URL ({type(exc).__name__})", url=url)
    return errors.UpstreamError(f"request failed ({failure_reason(exc)})", url=url)


def failure_reason(exc: BaseException) -> str:
    """Why a request failed, in a few words and nothing taken from the URL.

    >>> failure_reason(ConnectionRefusedError(111, "Connection refused"))
    'connection refused'
    """
    causes = list(_causes(exc))
    for matches, reason in _REASONS:
        if any(matches(cause) for cause in causes):
            return reason
    for cause in causes:
        if isinstance(cause, ssl.SSLError):
            return f"TLS failed ({getattr(cause, 'verify_message', None) or cause.reason or 'handshake'})"
    for cause in reversed(causes):
        if isinstance(cause, OSError) and cause.errno:
            return os.strerror(cause.errno).lower()
    return type(causes[-1]).__name__


def _kind(*kinds: type[BaseException]) -> Callable[[BaseException], bool]:
    return lambda cause: isinstance(cause, kinds)


def _connect_timeout(cause: BaseException) -> bool:
    # urllib3's NewConnectionError (refused, unreachable, not the checked host) is a subclass of
    # its ConnectTimeoutError: not a timeout.
    return isinstance(cause, requests.exceptions.ConnectTimeout | urllib3_exceptions.ConnectTimeoutError) and not (
        isinstance(cause, urllib3_exceptions.NewConnectionError)
    )


# First match wins: the most telling reason, whichever layer wrapped it.
_REASONS: tuple[tuple[Callable[[BaseException], bool], str], ...] = (
    (_kind(socket.gaierror, urllib3_exceptions.NameResolutionError), "name not resolved"),
    (_kind(ConnectionRefusedError), "connection refused"),
    # Before ConnectionResetError, which it is a kind of.
    (_kind(http.client.RemoteDisconnected), "the server closed the connection without answering"),
    (_kind(ConnectionResetError), "connection reset by the server"),
    (_kind(DeadlinePassed), "the deadline passed"),
    (_connect_timeout, "timed out connecting (ML_DATA_CONNECT_TIMEOUT)"),
    (
        _kind(requests.exceptions.ReadTimeout, urllib3_exceptions.ReadTimeoutError, TimeoutError),
        "timed out waiting for the server (ML_DATA_TIMEOUT)",
    ),
    (_kind(http.client.IncompleteRead, urllib3_exceptions.IncompleteRead), "the body ended early"),
    (_kind(urllib3_exceptions.InvalidChunkLength), "malformed chunked body"),
    (_kind(http.client.HTTPException), "malformed answer"),
)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps (requests -> MaxRetryError -> urllib3 error -> OSError), outermost
    first; bounded, and each exception once."""
    seen: set[int] = set()
    queue = [exc]
    while queue and len(seen) < 32:
        current = queue.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        first_arg = current.args[0] if current.args else None
        for inner in (first_arg, getattr(current, "reason", None), current.__cause__, current.__context__):
            if isinstance(inner, BaseException):
                queue.append(inner)


__all__ = [
    "REDIRECT_STATUSES",
    "failure_reason",
    "is_success",
    "raise_for_response",
    "raise_for_transfer_coding",
    "translate_exception",
]
