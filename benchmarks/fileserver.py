"""A threaded HTTP/1.1 file server for benchmarks where nginx is not installed:
``python fileserver.py DIR PORT``, on 127.0.0.1.

Run as its own process so that serving does not compete with the client for the GIL.
"""

from __future__ import annotations

import functools
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer


class _Handler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
    # Headers and body go out in separate writes: without this, Nagle and delayed ACKs add 40 ms
    # to every request on a kept-alive connection (real servers cork or use sendfile instead).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    directory, port = sys.argv[1], int(sys.argv[2])
    server = ThreadingHTTPServer(("127.0.0.1", port), functools.partial(_Handler, directory=directory))
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
