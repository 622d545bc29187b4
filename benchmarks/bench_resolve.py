"""Resolving benchmark: ml-data against label_studio_tools' get_local_path, same server, same run.

    .venv/bin/python benchmarks/bench_resolve.py            # 2,000 x 50 KB and 1 GiB
    .venv/bin/python benchmarks/bench_resolve.py --quick    # 200 x 50 KB and 64 MiB

Figures printed: cold (nothing cached) and warm (everything cached) wall time for the small files,
wall time, throughput and peak RSS for the large file (each run in a fresh process), curl's
throughput on the same file, and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""


def start_server(directory: Path, kind: str) -> tuple[subprocess.Popen, str]:
    """nginx (as a real deployment would serve files) when installed, else a Python server."""
    port = free_port()
    if kind == "nginx":
        conf = directory.parent / "nginx.conf"
        conf.write_text(_NGINX_CONF.format(tmp=directory.parent, port=port, root=directory))
        process = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(directory.parent)], stderr=subprocess.DEVNULL)
    else:
        process = subprocess.Popen([sys.executable, str(HERE / "fileserver.py"), str(directory), str(port)])
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("file server did not start")


def make_files(directory: Path, count: int, size: int, big: int) -> None:
    small = directory / "small"
    small.mkdir(parents=True)
    for index in range(count):
        (small / f"img_{index:05d}.jpg").write_bytes(os.urandom(size))
    with open(directory / "big.bin", "wb") as handle:
        block = os.urandom(1024 * 1024)
        for _ in range(big // len(block)):
            handle.write(block)


def timed(function) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


_BIG_CHILD = """
import json, resource, sys, time
from pathlib import Path
which, url, cache = sys.argv[1], sys.argv[2], sys.argv[3]
start = time.perf_counter()
if which == "ml-data":
    from ml_data import Resolver, Settings
    path = Resolver(Settings(cache_dir=Path(cache))).resolve(url).path
else:
    from label_studio_tools.core.utils.io import get_local_path
    Path(cache).mkdir(parents=True, exist_ok=True)
    path = get_local_path(url, cache_dir=cache)
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "size": Path(path).stat().st_size}))
"""


def run_big(which: str, url: str, cache: Path) -> dict:
    output = subprocess.run(
        [sys.executable, "-c", _BIG_CHILD, which, url, str(cache)], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output)


def curl_speed(url: str) -> float | None:
    if shutil.which("curl") is None:
        return None
    result = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{speed_download}", url], check=True, capture_output=True, text=True
    )
    return float(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument(
        "--server", choices=("nginx", "python"), default="nginx" if shutil.which("nginx") else "python",
        help="what serves the files (default: nginx when installed)",
    )
    args = parser.parse_args()
    count, size = (200, 50_000) if args.quick else (2000, 50_000)
    big = (64 if args.quick else 1024) * 1024 * 1024

    from label_studio_tools.core.utils.io import get_local_path as reference_get_local_path

    from ml_data import Resolver, Settings, resolve_many

    with tempfile.TemporaryDirectory(prefix="ml-data-bench-") as tmp:
        root = Path(tmp)
        make_files(root / "files", count, size, big)
        server, origin = start_server(root / "files", args.server)
        try:
            urls = [f"{origin}/small/img_{index:05d}.jpg" for index in range(count)]
            ours_cache, theirs_cache = root / "ours", root / "theirs"
            theirs_cache.mkdir()
            settings = Settings(cache_dir=ours_cache)

            reference_cold = timed(lambda: [reference_get_local_path(u, cache_dir=str(theirs_cache)) for u in urls])
            ours_cold = timed(lambda: resolve_many(urls, workers=args.workers, progress=False, settings=settings))
            reference_warm = timed(lambda: [reference_get_local_path(u, cache_dir=str(theirs_cache)) for u in urls])
            resolver = Resolver(settings)
            ours_warm = timed(lambda: [resolver.resolve(u) for u in urls])

            big_url = f"{origin}/big.bin"
            curl = curl_speed(big_url)
            ours_big = run_big("ml-data", big_url, root / "ours-big")
            reference_big = run_big("reference", big_url, root / "theirs-big")
        finally:
            server.kill()
            server.wait()

    mib = big / 2**20
    print(f"server: {args.server} on 127.0.0.1")
    print(f"small files: {count} x {size // 1000} KB over loopback, ml-data with {args.workers} workers")
    print(f"  cold  reference {reference_cold:7.2f} s   ml-data {ours_cold:7.2f} s   speed-up {reference_cold / ours_cold:5.1f}x")
    print(f"  warm  reference {reference_warm:7.3f} s   ml-data {ours_warm:7.3f} s   speed-up {reference_warm / ours_warm:5.1f}x")
    print(f"large file: {mib:.0f} MiB")
    for name, figures in (("reference", reference_big), ("ml-data", ours_big)):
        print(
            f"  {name:9s} {figures['seconds']:6.2f} s  {mib / figures['seconds']:7.1f} MiB/s  "
            f"peak RSS {figures['peak_rss_mb']:7.1f} MB"
        )
    if curl:
        ours_speed = mib / ours_big["seconds"]
        print(f"  curl      {curl / 2**20:7.1f} MiB/s   ml-data at {100 * ours_speed / (curl / 2**20):.0f}% of curl")
    print(f"  speed-up {reference_big['seconds'] / ours_big['seconds']:.2f}x, "
          f"memory {reference_big['peak_rss_mb'] / ours_big['peak_rss_mb']:.1f}x less")


if __name__ == "__main__":
    main()
