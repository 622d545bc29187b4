"""Service benchmark: warm-cache ``GET /v1/resources`` of a 50 KB file under wrk, beside nginx
serving the same file from disk, in the same run (both on 127.0.0.1), beside a bare Flask app
under the same server sending the same file (the framework's ceiling), and through nginx with the
shipped config (docker/nginx), the service answering X-Accel-Redirect and nginx sending the file.

    apt-get install -y wrk nginx-light
    .venv/bin/python -m benchmarks.bench_service [--seconds 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from benchmarks.bench_resolve import free_port, start_server
from tests.support.servers.nginx import ACCEL_LOCATION, nginx_in_front

HERE = Path(__file__).resolve().parent

TOKEN = "benchmark-token"


def wrk(url: str, seconds: int, connections: int, header: str | None = None) -> tuple[float, float]:
    """Requests per second and p99 latency in milliseconds."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if header:
        command[1:1] = ["-H", header]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", output).groups()
    return rps, float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if not shutil.which("wrk") or not shutil.which("nginx"):
        sys.exit("needs wrk and nginx: apt-get install -y wrk nginx-light")
    with tempfile.TemporaryDirectory(prefix="ml-data-service-") as tmp:
        root = Path(tmp)
        files = root / "files"
        files.mkdir()
        (files / "image.jpg").write_bytes(os.urandom(50_000))
        nginx, origin = start_server(files, "nginx")
        port = free_port()
        env = {
            **os.environ,
            "ML_DATA_SERVICE_TOKEN": TOKEN,
            "ML_DATA_SERVICE_ALLOW": origin,
            "ML_DATA_CACHE_DIR": str(root / "cache"),
        }
        service = subprocess.Popen(
            [str(Path(sys.executable).parent / "ml-data"), "serve", "--port", str(port), "--threads", "16"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        accel_port = free_port()
        accelerated = subprocess.Popen(
            [str(Path(sys.executable).parent / "ml-data"), "serve", "--port", str(accel_port), "--threads", "16"],
            env={**env, "ML_DATA_ACCEL_REDIRECT": ACCEL_LOCATION},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        bare_port = free_port()
        bare = subprocess.Popen(
            [sys.executable, str(HERE / "bare_flask.py"), str(files / "image.jpg"), str(bare_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            resource = f"http://127.0.0.1:{port}/v1/resources?" + urllib.parse.urlencode({"url": f"{origin}/image.jpg"})
            request = urllib.request.Request(resource, headers={"Authorization": f"Bearer {TOKEN}"})
            for _ in range(100):  # wait for the service; the first request also warms the cache
                try:
                    urllib.request.urlopen(request, timeout=2).read()
                    break
                except OSError:
                    time.sleep(0.1)
            nginx_rps, nginx_p99 = wrk(f"{origin}/image.jpg", args.seconds, args.connections)
            ours_rps, ours_p99 = wrk(resource, args.seconds, args.connections, f"Authorization: Bearer {TOKEN}")
            bare_rps, bare_p99 = wrk(f"http://127.0.0.1:{bare_port}/file", args.seconds, args.connections)
            front_dir = root / "front"
            front_dir.mkdir()
            with nginx_in_front(
                front_dir, listen_port=free_port(), service_port=accel_port, cache_dir=root / "cache"
            ) as front:
                through = front + resource[resource.index("/v1/") :]
                urllib.request.urlopen(
                    urllib.request.Request(through, headers={"Authorization": f"Bearer {TOKEN}"}), timeout=10
                ).read()
                front_rps, front_p99 = wrk(through, args.seconds, args.connections, f"Authorization: Bearer {TOKEN}")
        finally:
            accelerated.terminate()
            accelerated.wait(10)
            bare.terminate()
            bare.wait(10)
            service.terminate()
            service.wait(10)
            nginx.kill()
            nginx.wait()
    print(f"warm GET of a 50 KB file, wrk -t2 -c{args.connections} -d{args.seconds}s on 127.0.0.1")
    print(f"  nginx    {nginx_rps:9.0f} req/s   p99 {nginx_p99:7.2f} ms")
    print(f"  ml-data  {ours_rps:9.0f} req/s   p99 {ours_p99:7.2f} ms   ({100 * ours_rps / nginx_rps:.0f}% of nginx)")
    print(
        f"  Flask    {bare_rps:9.0f} req/s   p99 {bare_p99:7.2f} ms   ({100 * bare_rps / nginx_rps:.0f}% of nginx; "
        "send_file alone under the same server)"
    )
    print(
        f"  ml-data behind nginx, X-Accel-Redirect {front_rps:9.0f} req/s   p99 {front_p99:7.2f} ms   "
        f"({100 * front_rps / nginx_rps:.0f}% of nginx)"
    )


if __name__ == "__main__":
    main()
