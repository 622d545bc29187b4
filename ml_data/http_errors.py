"""How HTTP answers and transport failures become typed :mod:`ml_data.errors` exceptions.

Two doors, one each: :func:`raise_for_response` for an answer whose status is not a success, and
:func:`translate_exception` for a requests/urllib3 exception. Messages say *why* in a few words
(connection refused, name not resolved, timed out connecting...) and never repeat
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


def raise_for_response(response: requests.Response, url: str, *, hint: str = "") -> None:
    """Raise the typed error for a non-success response (the one place statuses become errors)."""
    if response.ok:
        return
    status = response.status_code
    reason = f"HTTP {status} {response.reason or ''}".strip()
    message = f"{reason}{': ' + hint if hint else ''}"
    error_type: type[errors.UpstreamHTTPError] = errors.UpstreamHTTPError
    if status == 401:
        error_type = errors.AuthenticationFailed
    elif status == 403:
        error_type = errors.AccessDenied
    elif status in (404, 410):
        error_type = errors.RemoteNotFound
    raise error_type(message, status_code=status, url=url, response=response)


def translate_exception(exc: BaseException, url: str) -> errors.UpstreamError:
    """Turn a requests/urllib3 exception into the matching typed error, saying why it failed."""
    if isinstance(exc, errors.UpstreamError):
        return exc
    causes = list(_causes(exc))
    refused = any(isinstance(cause, urllib3_exceptions.NewConnectionError) for cause in causes)
    timed_out = not refused and any(
        isinstance(cause, requests.Timeout | urllib3_exceptions.TimeoutError | TimeoutError) for cause in causes
    )
    if timed_out:
        return errors.UpstreamTimeout(failure_reason(exc), url=url)
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


__all__ = ["failure_reason", "raise_for_response", "translate_exception"]
