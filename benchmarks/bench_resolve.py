"""Resolving benchmark: ml-data against label_studio_tools' get_local_path, same server, same run.

    .venv/bin/python -m benchmarks.bench_resolve            # 2,000 x 50 KB and 1 GiB
    .venv/bin/python -m benchmarks.bench_resolve --quick    # 200 x 50 KB and 64 MiB

Figures printed: cold (nothing cached), warm (everything cached, first look by this process) and
again (a second pass, as a long-running backend does) wall time for the small files, on nginx and
on a server that delays each answer by --latency ms;
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


def start_server(directory: Path, kind: str, latency_ms: float = 0.0) -> tuple[subprocess.Popen, str]:
    """nginx (as a real deployment would serve files) when installed, else a Python server;
    with ``latency_ms``, an asyncio server that delays each answer by that much."""
    port = free_port()
    if latency_ms:
        process = subprocess.Popen(
            [sys.executable, str(HERE / "latency_server.py"), str(directory), str(port), str(latency_ms)]
        )
    elif kind == "nginx":
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


_WARM_CHILD = """
import json, sys, time
which, cache, urls = sys.argv[1], sys.argv[2], sys.argv[3:]
if which == "ml-data":
    from ml_data import get_local_path
else:
    from label_studio_tools.core.utils.io import get_local_path
get_local_path(urls[0], cache_dir=cache)  # imports and the first call's set-up are not counted
start = time.perf_counter()
for url in urls[1:]:
    get_local_path(url, cache_dir=cache)
print(json.dumps({"us_per_call": (time.perf_counter() - start) / (len(urls) - 1) * 1e6}))
"""


def warm_get_local_path(which: str, urls: list[str], cache: Path) -> float:
    """Microseconds per ``get_local_path`` of a cached file, each file seen for the first time by a
    new process (the call an ML backend makes per image after a restart)."""
    output = subprocess.run(
        [sys.executable, "-c", _WARM_CHILD, which, str(cache), *urls], check=True, capture_output=True, text=True
    ).stdout
    return float(json.loads(output)["us_per_call"])


def run_big(which: str, url: str, cache: Path) -> dict:
    output = subprocess.run(
        [sys.executable, "-c", _BIG_CHILD, which, url, str(cache)], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output)


def curl_speed(url: str, target: Path) -> float | None:
    """curl's throughput writing the file to disk, as ml-data must (bytes per second)."""
    if shutil.which("curl") is None:
        return None
    result = subprocess.run(
        ["curl", "-s", "-o", str(target), "-w", "%{speed_download}", url], check=True, capture_output=True, text=True
    )
    target.unlink()
    return float(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--workers", type=int, default=None, help="resolve_many's workers (default: its own)")
    parser.add_argument("--count", type=int, default=None, help="small files (default 2,000; 200 with --quick)")
    parser.add_argument("--skip-large", action="store_true", help="leave out the 1 GiB file")
    parser.add_argument(
        "--server",
        choices=("nginx", "python"),
        default="nginx" if shutil.which("nginx") else "python",
        help="what serves the files (default: nginx when installed)",
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=20.0,
        help="milliseconds the latency run adds to every answer (0 to skip that run)",
    )
    args = parser.parse_args()
    count, size = (200, 50_000) if args.quick else (2000, 50_000)
    count = args.count or count
    big = 0 if args.skip_large else (64 if args.quick else 1024) * 1024 * 1024

    from label_studio_tools.core.utils.io import get_local_path as reference_get_local_path

    from ml_data import Resolver, Settings, resolve_many
    from ml_data.config import DEFAULT_WORKERS

    workers = {"workers": args.workers} if args.workers else {}

    def small_files(origin: str, work: Path) -> dict[str, float]:
        urls = [f"{origin}/small/img_{index:05d}.jpg" for index in range(count)]
        ours_cache, theirs_cache = work / "ours", work / "theirs"
        theirs_cache.mkdir(parents=True)
        settings = Settings(cache_dir=ours_cache)
        cpu_started = time.process_time()
        figures = {
            "reference_cold": timed(lambda: [reference_get_local_path(u, cache_dir=str(theirs_cache)) for u in urls]),
            "reference_cpu_ms": (time.process_time() - cpu_started) * 1000 / count,
            "ours_cold": timed(lambda: resolve_many(urls, progress=False, settings=settings, **workers)),
            "reference_warm": timed(lambda: [reference_get_local_path(u, cache_dir=str(theirs_cache)) for u in urls]),
        }
        # Warm, as a new process finds it (metadata read from disk), then as a long-running
        # backend resolves the same files again (entries remembered by the process).
        resolver = Resolver(settings)
        figures["ours_warm"] = timed(lambda: [resolver.resolve(u) for u in urls])
        figures["ours_again"] = timed(lambda: [resolver.resolve(u) for u in urls])
        figures["reference_again"] = timed(
            lambda: [reference_get_local_path(u, cache_dir=str(theirs_cache)) for u in urls]
        )
        # Client CPU per downloaded file: one thread resolving in a loop, as the reference does.
        looping = Resolver(Settings(cache_dir=work / "ours-loop"))
        cpu_started = time.process_time()
        figures["ours_loop"] = timed(lambda: [looping.resolve(u) for u in urls])
        figures["ours_cpu_ms"] = (time.process_time() - cpu_started) * 1000 / count
        # get_local_path itself, in a new process per implementation (median of three).
        for name, cache in (("reference", theirs_cache), ("ours", ours_cache)):
            runs = sorted(warm_get_local_path("ml-data" if name == "ours" else name, urls, cache) for _ in range(3))
            figures[f"{name}_glp_us"] = runs[1]
        return figures

    with tempfile.TemporaryDirectory(prefix="ml-data-bench-") as tmp:
        root = Path(tmp)
        make_files(root / "files", count, size, big)
        server, origin = start_server(root / "files", args.server)
        try:
            local = small_files(origin, root / "local")
            if big:
                big_url = f"{origin}/big.bin"
                curl = curl_speed(big_url, root / "curl.bin")
                ours_big = run_big("ml-data", big_url, root / "ours-big")
                reference_big = run_big("reference", big_url, root / "theirs-big")
        finally:
            server.kill()
            server.wait()
        remote = None
        if args.latency:
            server, origin = start_server(root / "files", "python", args.latency)
            try:
                remote = small_files(origin, root / "remote")
            finally:
                server.kill()
                server.wait()

    def report(title: str, figures: dict[str, float]) -> None:
        print(title)
        for phase in ("cold", "warm", "again"):
            ref, ours = figures[f"reference_{phase}"], figures[f"ours_{phase}"]
            print(f"    {phase:5s} reference {ref:7.3f} s   ml-data {ours:7.3f} s   speed-up {ref / ours:5.1f}x")
        print(
            f"    cold, one thread in a loop: reference {figures['reference_cold']:7.3f} s   "
            f"ml-data {figures['ours_loop']:7.3f} s   client CPU per file: reference "
            f"{figures['reference_cpu_ms']:.2f} ms, ml-data {figures['ours_cpu_ms']:.2f} ms"
        )
        ref, ours = figures["reference_glp_us"], figures["ours_glp_us"]
        print(
            f"    get_local_path, cached, new process: reference {ref:6.1f} us/call   ml-data {ours:6.1f} us/call   "
            f"speed-up {ref / ours:5.2f}x"
        )

    print(
        f"small files: {count} x {size // 1000} KB; cold: ml-data resolve_many with {args.workers or DEFAULT_WORKERS} "
        "workers; "
        "warm: a new resolver in a loop; again: the same resolver once more; the reference always in a loop"
    )
    report(f"  served by {args.server} on loopback (no latency: CPU-bound on both sides)", local)
    if remote:
        report(f"  served with {args.latency:.0f} ms latency per answer (as from an object store)", remote)
    if not big:
        return
    mib = big / 2**20
    print(f"large file: {mib:.0f} MiB")
    for name, figures in (("reference", reference_big), ("ml-data", ours_big)):
        print(
            f"  {name:9s} {figures['seconds']:6.2f} s  {mib / figures['seconds']:7.1f} MiB/s  "
            f"peak RSS {figures['peak_rss_mb']:7.1f} MB"
        )
    if curl:
        ours_speed = mib / ours_big["seconds"]
        print(f"  curl -o   {curl / 2**20:7.1f} MiB/s   ml-data at {100 * ours_speed / (curl / 2**20):.0f}% of curl")
    print(
        f"  speed-up {reference_big['seconds'] / ours_big['seconds']:.2f}x, "
        f"memory {reference_big['peak_rss_mb'] / ours_big['peak_rss_mb']:.1f}x less"
    )


if __name__ == "__main__":
    main()
