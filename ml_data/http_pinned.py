"""Connections that go only to the addresses the client checked.

:class:`~ml_data.http.HttpClient` resolves a host name once, shows the addresses to its guard, and
sets them (:data:`PINNED`) around each send: the connection pool then connects to exactly those
addresses, the Host header and TLS server name staying the name, whatever a second DNS answer
would say. Every connect, and every send on a reused connection, is bounded by the current
deadline (:mod:`ml_data.deadline`).
"""

from __future__ import annotations

import contextvars
import http.client
import socket
import sys
from collections.abc import Callable, Mapping
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection as urllib3_connection

from ml_data import deadline as _deadline
from ml_data.urls import is_ip_address

#: (host, port) -> the addresses a connection to it may go to; set by HttpClient around each send.
PINNED: contextvars.ContextVar[Mapping[tuple[str, int], tuple[str, ...]] | None] = contextvars.ContextVar(
    "ml_data_pinned_addresses", default=None
)


class _PinnedConnectionMixin:
    """Connect to the addresses HttpClient resolved and checked, never to a fresh DNS answer."""

    host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any

    # Status line, headers and body read under the current deadline (see ml_data.deadline).
    response_class: type[http.client.HTTPResponse] = _deadline.DeadlineHTTPResponse

    def _new_conn(self) -> socket.socket:
        pins = PINNED.get()
        if pins is None:
            self.timeout = self._bounded(self.timeout)
            return super()._new_conn()  # type: ignore[misc, no-any-return]
        host = self.host.strip("[]").rstrip(".").lower()
        addresses = pins.get((host, self.port))
        if not addresses:
            raise NewConnectionError(self, f"refusing to connect to {host}:{self.port}: not the checked host")  # type: ignore[arg-type]
        failure: Exception | None = None
        for address in addresses:
            try:
                sock = urllib3_connection.create_connection(
                    (address, self.port),
                    self._bounded(self.timeout),  # each address gets only the time left
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as exc:
                failure = ConnectTimeoutError(self, f"Connection to {self.host} timed out ({exc})")
                failure.__cause__ = exc
            except OSError as exc:
                failure = NewConnectionError(self, f"Failed to establish a new connection: {exc}")  # type: ignore[arg-type]
                failure.__cause__ = exc  # the reason (refused, unreachable) is told from it
            else:
                sys.audit("http.client.connect", self, self.host, self.port)
                return sock
        assert failure is not None
        raise failure

    def _bounded(self, timeout: Any) -> Any:
        """The connect timeout cut to the current deadline's time left; a connection is not even
        tried once it has passed."""
        deadline = _deadline.current()
        if deadline is None:
            return timeout
        try:
            return deadline.bound(timeout if isinstance(timeout, int | float) else None)
        except _deadline.DeadlinePassed as exc:
            raise ConnectTimeoutError(self, str(exc)) from exc

    def send(self, data: Any) -> None:
        # A reused connection's socket keeps the last response's timeout, perhaps cut short by
        # that call's deadline: sending gets this request's (connect) timeout, within its deadline.
        sock = getattr(self, "sock", None)
        if sock is not None and isinstance(self.timeout, int | float):
            sock.settimeout(self._bounded(self.timeout))
        super().send(data)  # type: ignore[misc]


class _PinnedHTTPConnection(_PinnedConnectionMixin, HTTPConnection):
    pass


class _PinnedHTTPSConnection(_PinnedConnectionMixin, HTTPSConnection):
    pass


class _PinnedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _PinnedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


class PinnedAdapter(HTTPAdapter):
    """requests' adapter whose connections go only to the addresses :class:`HttpClient` checked."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _PinnedHTTPPool, "https": _PinnedHTTPSPool}


def resolve_host(host: str, port: int) -> tuple[str, ...]:
    """The addresses ``host`` resolves to, in the resolver's order (an IP address is its own)."""
    if is_ip_address(host):
        return (host,)
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return tuple(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))


HostResolver = Callable[[str, int], tuple[str, ...]]
