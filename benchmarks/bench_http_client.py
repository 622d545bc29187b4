"""What an HTTP client below requests could save per download: client CPU per 50 KB file.

    .venv/bin/python -m benchmarks.bench_http_client                # 1,000 files, 3 rounds
    .venv/bin/python -m benchmarks.bench_http_client --count 300 --rounds 5

Files served by nginx on 127.0.0.1 (a threaded Python server without it), fetched one at a
time on one kept-alive connection, body streamed in 64 KB chunks through sha256 into a temp
file, as a download does, by: requests (a Session's ``get``, ``stream=True``; and a prepared
request sent on a session that reads no environment, as ml-data sends), urllib3's connection pool
directly, the standard library's ``http.client``, and ml-data's ``Resolver.resolve`` into an
empty cache (every guarantee: the guard, pinned address, deadline, cache commit). Each round
runs all four in turn and reports the process's CPU time per file (``process_time``), so the
figures hold on a machine under other load; the table gives each one's min and median.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests
import urllib3

from benchmarks.bench_resolve import make_files, start_server

_CHUNK = 64 * 1024


def _sink(chunks: Callable[[], bytes], folder: Path) -> None:
    """Write a body through sha256 into a temp file, as a download does."""
    digest = hashlib.sha256()
    fd, name = tempfile.mkstemp(dir=folder)
    with os.fdopen(fd, "wb") as handle:
        while chunk := chunks():
            digest.update(chunk)
            handle.write(chunk)
    os.unlink(name)


def with_requests(urls: list[str], folder: Path) -> None:
    with requests.Session() as session:
        for url in urls:
            with session.get(url, stream=True, timeout=30) as response:
                response.raise_for_status()
                body = response.iter_content(_CHUNK)
                _sink(lambda body=body: next(body, b""), folder)


def with_requests_send(urls: list[str], folder: Path) -> None:
    """As ml-data sends: a prepared request on a session that reads no environment."""
    with requests.Session() as session:
        session.trust_env = False
        for url in urls:
            prepared = requests.PreparedRequest()
            prepared.prepare(method="GET", url=url, headers=dict(session.headers))
            with session.send(prepared, stream=True, timeout=30, allow_redirects=False) as response:
                response.raise_for_status()
                _sink(lambda response=response: response.raw.read1(_CHUNK), folder)


def with_urllib3(urls: list[str], folder: Path) -> None:
    host, port = urls[0].split("//")[1].split("/")[0].split(":")
    with urllib3.HTTPConnectionPool(host, int(port), maxsize=1, retries=False, timeout=30) as pool:
        for url in urls:
            response = pool.request("GET", url, preload_content=False, redirect=False)
            if response.status != 200:
                raise RuntimeError(response.status)
            _sink(lambda response=response: response.read(_CHUNK), folder)
            response.release_conn()


def with_http_client(urls: list[str], folder: Path) -> None:
    host, port = urls[0].split("//")[1].split("/")[0].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        for url in urls:
            connection.request("GET", "/" + url.split("/", 3)[3])
            response = connection.getresponse()
            if response.status != 200:
                raise RuntimeError(response.status)
            _sink(lambda response=response: response.read(_CHUNK), folder)
    finally:
        connection.close()


def with_ml_data(urls: list[str], folder: Path) -> None:
    from ml_data import Resolver, Settings

    cache = folder / "cache"
    resolver = Resolver(Settings(cache_dir=cache))
    for url in urls:
        resolver.resolve(url)
    shutil.rmtree(cache)


CLIENTS = {
    "requests": with_requests,
    "requests, send": with_requests_send,
    "urllib3 pool": with_urllib3,
    "http.client": with_http_client,
    "ml-data resolve": with_ml_data,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--server", choices=("nginx", "python"), default="nginx" if shutil.which("nginx") else "python")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ml-data-http-") as tmp:
        root = Path(tmp)
        make_files(root / "files", args.count, 50 * 1024, 0)
        server, origin = start_server(root / "files", args.server)
        try:
            urls = [f"{origin}/small/img_{index:05d}.jpg" for index in range(args.count)]
            with_ml_data(urls[:20], root)  # imports and first connections outside the figures
            figures: dict[str, list[float]] = {name: [] for name in CLIENTS}
            for _round in range(args.rounds):
                for name, client in CLIENTS.items():
                    started = time.process_time()
                    client(urls, root)
                    figures[name].append((time.process_time() - started) * 1000 / args.count)
        finally:
            server.terminate()
            server.wait()
    print(f"{args.count} x 50 KB from {args.server} on loopback, client CPU per file ({args.rounds} rounds)")
    for name, values in figures.items():
        print(f"  {name:18s} min {min(values):5.2f} ms   median {statistics.median(values):5.2f} ms")


if __name__ == "__main__":
    main()
