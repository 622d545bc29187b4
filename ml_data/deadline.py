"""One deadline for a whole HTTP call: connect, status line, headers, every redirect and the body.

Why per read and not per request: a socket timeout bounds one ``recv``, so a server that sends a
header byte a second, or answers each of ten redirects just under the read timeout, holds the call
(with the cache entry's lock and a service thread) for as long as it likes. Here the time left is
taken again before every socket operation: each connect, send and ``recv`` waits at most
``min(its own timeout, time left)``, and none starts once the deadline has passed.

:class:`~ml_data.http.HttpClient` makes the deadline current while it sends (connections and retries
read it from a context variable, as they are reached through requests and urllib3); a response's
reader keeps the deadline it was made under, so the body, read later, is bounded by it too.
"""

from __future__ import annotations

import contextvars
import http.client
import io
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ml_data import errors


@dataclass(frozen=True)
class Deadline:
    """A ``time.monotonic()`` instant by which a call must be done, and the setting it came from.

    >>> deadline = Deadline.after(30.0)
    >>> 0 < deadline.remaining() <= 30.0
    True
    """

    at: float
    seconds: float
    setting: str = "ML_DATA_DOWNLOAD_DEADLINE"

    @classmethod
    def after(cls, seconds: float, *, setting: str = "ML_DATA_DOWNLOAD_DEADLINE") -> Deadline:
        return cls(time.monotonic() + seconds, seconds, setting)

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def bound(self, timeout: float | None) -> float:
        """``timeout`` shortened to the time left; :class:`DeadlinePassed` when none is left.

        A ``TimeoutError``, so urllib3 and requests report it as the timeout it is.
        """
        remaining = self.remaining()
        if remaining <= 0:
            raise DeadlinePassed(f"the {self.seconds:g}s deadline has passed")
        return remaining if timeout is None else min(timeout, remaining)

    def error(self, url: str) -> errors.UpstreamTimeout:
        """The typed error for a call that ran out of time."""
        return errors.UpstreamTimeout(
            f"the download took longer than its {self.seconds:g}s deadline ({self.setting})", url=url
        )


class DeadlinePassed(TimeoutError):
    """Raised instead of starting a socket operation after the deadline (inside the HTTP stack only:
    :class:`~ml_data.http.HttpClient` turns it into :class:`~ml_data.errors.UpstreamTimeout`)."""


_CURRENT: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("ml_data_deadline", default=None)


def current() -> Deadline | None:
    """The deadline of the call being sent in this context, if any."""
    return _CURRENT.get()


@contextmanager
def applied(deadline: Deadline | None) -> Iterator[None]:
    """Make ``deadline`` current for the connections, retries and responses made inside."""
    token = _CURRENT.set(deadline)
    try:
        yield
    finally:
        _CURRENT.reset(token)


class DeadlineHTTPResponse(http.client.HTTPResponse):
    """http.client's response, reading through :class:`_DeadlineReader` when a deadline is current,
    so the status line, the header lines (up to 100 of 64 KiB each) and the body are all bounded."""

    def __init__(self, sock: Any, *args: Any, **kwargs: Any) -> None:
        deadline = current()
        if deadline is not None and hasattr(sock, "settimeout"):
            sock = _DeadlineSocket(sock, deadline)
        super().__init__(sock, *args, **kwargs)


class _DeadlineSocket:
    """Only what ``HTTPResponse.__init__`` asks of its socket: ``makefile("rb")``."""

    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        self._sock = sock
        self._deadline = deadline

    def makefile(self, mode: str) -> io.BufferedReader:
        assert mode == "rb", mode
        raw = self._sock.makefile("rb", buffering=0)  # counted as one of the socket's files
        return io.BufferedReader(_DeadlineReader(raw, self._sock, self._deadline))


class _DeadlineReader(io.RawIOBase):
    """The socket's raw reader; before each ``recv`` its timeout becomes ``min(read timeout, time
    left)``, so no single read, and no run of slow reads, outlasts the deadline."""

    def __init__(self, raw: Any, sock: socket.socket, deadline: Deadline) -> None:
        super().__init__()
        self._raw = raw
        self._sock = sock
        self._deadline = deadline
        # The read timeout: urllib3 sets it on the socket just before the response is made.
        self._timeout = sock.gettimeout()
        self._applied = self._timeout

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        timeout = self._deadline.bound(self._timeout)
        if timeout != self._applied:  # only near the deadline: no system call per read before
            self._sock.settimeout(timeout)
            self._applied = timeout
        return self._raw.readinto(buffer)  # type: ignore[no-any-return]

    def fileno(self) -> int:
        return self._raw.fileno()  # type: ignore[no-any-return]

    def close(self) -> None:
        if not self.closed:
            try:
                self._raw.close()
            finally:
                super().close()


__all__ = ["Deadline", "DeadlineHTTPResponse", "DeadlinePassed", "applied", "current"]
