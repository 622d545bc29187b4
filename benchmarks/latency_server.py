"""A file server that answers every request after a fixed delay, as a remote object store does:
``python latency_server.py DIR PORT LATENCY_MS``, on 127.0.0.1.

asyncio rather than threads, so that the server costs little CPU and the benchmark measures the
client; HTTP/1.1 with keep-alive; GET and HEAD of plain files only.
"""

from __future__ import annotations

import asyncio
import os
import sys
from urllib.parse import unquote, urlsplit


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, root: str, delay: float) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            path = os.path.realpath(os.path.join(root, unquote(urlsplit(target).path).lstrip("/")))
            await asyncio.sleep(delay)
            if not path.startswith(root + os.sep) or not os.path.isfile(path):
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            else:
                with open(path, "rb") as handle:
                    body = handle.read()
                writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode())
                if method == "GET":
                    writer.write(body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main() -> None:
    root, port, delay = os.path.realpath(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000
    server = await asyncio.start_server(lambda r, w: handle(r, w, root, delay), "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
