"""A loopback HTTP file server that can misbehave on demand.

Each route is a :class:`Route`: a body to serve, or a way to fail (stall, truncate, reset the
connection, answer 5xx a few times first, redirect, trickle the headers, misstate the length, frame
the body oddly). Every request is recorded with its headers, so tests can count upstream GETs and
check which credentials each origin saw.
"""

from __future__ import annotations

import gzip
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""
    status: int = 0
    #: body bytes sent in the answer
    sent: int = 0


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    #: seconds to wait before sending anything
    stall_before: float = 0.0
    #: (bytes, seconds): send that many body bytes, then wait
    stall_after: tuple[int, float] | None = None
    #: announce the full length but send only this many bytes, then close
    truncate_at: int | None = None
    #: send this many bytes, then reset the connection (RST)
    reset_at: int | None = None
    #: apply truncate_at / reset_at only to the first N requests (None: to all)
    fault_times: int | None = None
    #: the first N requests get ``fail_status`` instead
    fail_times: int = 0
    fail_status: int = 503
    fail_headers: dict[str, str] = field(default_factory=dict)
    #: answer with a redirect to this URL
    redirect_to: str | None = None
    redirect_status: int = 302
    #: compute the answer from the request: (status, headers, body)
    handler: Callable[[Recorded], tuple[int, dict[str, str], bytes]] | None = None
    #: send the body in chunks of this size, pausing ``chunk_delay`` between them
    chunk_size: int = 65536
    chunk_delay: float = 0.0
    #: validators: answer conditional GETs with 304, and honour If-Range
    etag: str | None = None
    last_modified: str | None = None
    #: answer "Range: bytes=N-" with 206
    ranges: bool = False
    #: send no Content-Length: the body ends when the connection closes
    no_length: bool = False
    #: (bytes, seconds): after the status line, send that many bytes of a padding header one at
    #: a time, this long apart (a server that is never done with its headers)
    slow_headers: tuple[int, float] | None = None
    #: announce this Content-Length instead of the body's length (e.g. "-1")
    content_length: str | None = None
    #: send this Transfer-Encoding and frame the body for it ("chunked", "gzip, chunked")
    transfer_encoding: str | None = None
    #: called with the route after each answer (to change the object between requests)
    after_answer: Callable[[Route], None] | None = None
    served: int = 0


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # no 40 ms Nagle/delayed-ACK stalls on kept-alive connections

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._serve(send_body=True)
        route = self.server.owner.routes.get(urlsplit(self.path).path)
        if route is not None and route.after_answer is not None:
            route.after_answer(route)

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def do_POST(self) -> None:
        self._serve(send_body=True)

    def _serve(self, *, send_body: bool) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        record = Recorded(self.command, self.path, {k: v for k, v in self.headers.items()}, body)
        self._record = record
        owner = self.server.owner
        with owner.lock:
            owner.requests.append(record)
            owner.connections.add(self.client_address[:2])
            route = owner.routes.get(urlsplit(self.path).path) or owner.routes.get(self.path)
            attempt = route.served if route else 0
            if route:
                route.served += 1
        if route is None:
            self._reply(404, {}, b"not found", send_body)
            return
        if route.stall_before:
            time.sleep(route.stall_before)
        if route.slow_headers is not None:
            self._trickle_headers(*route.slow_headers, body=route.body if send_body else b"")
            return
        if attempt < route.fail_times:
            self._reply(route.fail_status, route.fail_headers, b"temporary failure", send_body)
            return
        if route.redirect_to is not None:
            self._reply(route.redirect_status, {"Location": route.redirect_to}, b"", send_body)
            return
        if route.handler is not None:
            status, headers, payload = route.handler(record)
            self._reply(status, headers, payload, send_body)
            return
        validators = {}
        if route.etag:
            validators["ETag"] = route.etag
        if route.last_modified:
            validators["Last-Modified"] = route.last_modified
        if self._not_modified(route):
            record.status = 304
            self.send_response(304)
            for name, value in validators.items():
                self.send_header(name, value)
            self.end_headers()
            return
        data, status, extra = route.body, route.status, dict(validators)
        if route.ranges:
            extra["Accept-Ranges"] = "bytes"
            start = self._range_start(route)
            if start is not None and start < len(data):
                extra["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
                data, status = data[start:], 206
        record.status = status
        self.send_response(status)
        for name, value in {**route.headers, **extra}.items():
            self.send_header(name, value)
        if route.transfer_encoding is not None:
            self.send_header("Transfer-Encoding", route.transfer_encoding)
            data = _framed(data, route.transfer_encoding)
        elif route.no_length:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(len(data)) if route.content_length is None else route.content_length)
        self.end_headers()
        if not send_body:
            return
        faulty = route.fault_times is None or attempt < route.fault_times
        if route.truncate_at is not None and faulty:
            record.sent = len(data[: route.truncate_at])
            self.wfile.write(data[: route.truncate_at])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_WR)
            return
        if route.reset_at is not None and faulty:
            record.sent = len(data[: route.reset_at])
            self.wfile.write(data[: route.reset_at])
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        sent = 0
        if route.stall_after is not None:
            first, pause = route.stall_after
            self.wfile.write(data[:first])
            self.wfile.flush()
            time.sleep(pause)
            sent = first
        while sent < len(data):
            self.wfile.write(data[sent : sent + route.chunk_size])
            sent = min(sent + route.chunk_size, len(data))
            record.sent = sent
            if route.chunk_delay:
                self.wfile.flush()
                time.sleep(route.chunk_delay)

    def _trickle_headers(self, count: int, pause: float, body: bytes) -> None:
        """A 200 whose header block arrives ``pause`` seconds per byte for ``count`` bytes, then
        ``body``; it stops when the client goes away (gives up, as it should)."""
        self._record.status = 200
        self.close_connection = True
        try:
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Pad: ")
            for _ in range(count):
                time.sleep(pause)
                self.wfile.write(b"p")
            self.wfile.write(b"\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        except OSError:
            pass

    def _not_modified(self, route: Route) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            return route.etag is not None and route.etag in [tag.strip() for tag in if_none_match.split(",")]
        since = self.headers.get("If-Modified-Since")
        return since is not None and route.last_modified is not None and since == route.last_modified

    def _range_start(self, route: Route) -> int | None:
        header = self.headers.get("Range", "")
        if not header.startswith("bytes=") or not header.endswith("-") or not header[6:-1].isdigit():
            return None
        if_range = self.headers.get("If-Range")
        if if_range is not None and if_range not in (route.etag, route.last_modified):
            return None  # the object changed: send it whole
        return int(header[6:-1])

    def _reply(self, status: int, headers: dict[str, str], body: bytes, send_body: bool) -> None:
        self._record.status = status
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)


def _framed(data: bytes, transfer_encoding: str) -> bytes:
    """``data`` encoded with the transfer codings named, in order (gzip, then chunked)."""
    for coding in (part.strip().lower() for part in transfer_encoding.split(",")):
        if coding == "gzip":
            data = gzip.compress(data)
        elif coding == "chunked":
            pieces = [data[i : i + 1000] for i in range(0, len(data), 1000)]
            data = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"
    return data


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: FileServer

    def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        pass  # broken connections are what some routes are for


class FileServer:
    """``with FileServer() as server: server.add("/x.jpg", Route(body=b"..."))``"""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Recorded] = []
        #: client (host, port) of every connection accepted
        self.connections: set[tuple[str, int]] = set()
        self.lock = threading.Lock()
        self._server = _Server((host, port), _Handler)
        self._server.owner = self
        self.host = host
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.origin + path

    def add(self, path: str, route: Route | None = None, **kwargs: object) -> Route:
        route = route or Route(**kwargs)  # type: ignore[arg-type]
        self.routes[path] = route
        return route

    def add_redirect_chain(self, path: str, hops: int, *, delay: float, to: str) -> None:
        """``path`` redirects through ``hops`` routes, each answering after ``delay`` seconds,
        the last one to ``to`` (a URL)."""
        paths = [path] + [f"{path}/hop{n}" for n in range(1, hops)]
        for here, there in zip(paths, [self.url(p) for p in paths[1:]] + [to], strict=True):
            self.add(here, stall_before=delay, redirect_to=there)

    def gets(self, path: str) -> int:
        """How many GETs reached ``path`` (query ignored)."""
        with self.lock:
            return sum(1 for r in self.requests if r.method == "GET" and urlsplit(r.path).path == path)

    def seen_authorization(self) -> list[str]:
        with self.lock:
            return [r.headers["Authorization"] for r in self.requests if "Authorization" in r.headers]

    def start(self) -> FileServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
