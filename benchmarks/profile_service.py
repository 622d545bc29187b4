"""Where a warm ``GET /v1/resources`` spends its time inside the service: cProfile over requests
through Flask's test client (no server, no socket), each part's cumulative share.

    .venv/bin/python -m benchmarks.profile_service            # 2,000 requests
    .venv/bin/python -m benchmarks.profile_service --accel    # answered with X-Accel-Redirect
"""

from __future__ import annotations

import argparse
import cProfile
import tempfile
import time
import urllib.parse
from pathlib import Path

from benchmarks.bench_resolve import make_files, start_server
from benchmarks.profiling import stage_shares

PARTS = {
    "the whole request (Werkzeug test client)": ("werkzeug/test.py", "run_wsgi_app"),
    "Flask's dispatch": ("flask/app.py", "full_dispatch_request"),
    "the /v1/resources handler": ("ml_data/service/api.py", "resources"),
    "  resolving the URL (guard, cache lookup)": ("ml_data/resolvers/resolver.py", "resolve"),
    "  the X-Accel-Redirect answer": ("ml_data/service/files.py", "_accel_redirect"),
    "  send_file": ("flask/helpers.py", "send_file"),
    "the Host check": ("ml_data/service/__init__.py", "_check_host"),
    "authentication": ("ml_data/service/__init__.py", "_authenticate"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--accel", action="store_true", help="answer with X-Accel-Redirect, as behind nginx")
    args = parser.parse_args()
    from ml_data import Settings
    from ml_data.service import ServiceSettings, create_app

    with tempfile.TemporaryDirectory(prefix="ml-data-profile-") as tmp:
        root = Path(tmp)
        make_files(root / "files", 1, 50_000, 0)
        server, origin = start_server(root / "files", "python")
        try:
            service = ServiceSettings(token="t", allow=(origin,), accel_redirect="/_c/" if args.accel else None)
            client = create_app(Settings(cache_dir=root / "cache"), service).test_client()
            url = "/v1/resources?" + urllib.parse.urlencode({"url": f"{origin}/small/img_00000.jpg"})
            headers = {"Authorization": "Bearer t"}
            assert client.get(url, headers=headers).status_code == 200  # now cached
            started = time.perf_counter()
            for _ in range(args.requests):
                client.get(url, headers=headers)
            per_request = (time.perf_counter() - started) / args.requests * 1e6
            profile = root / "service.prof"
            cProfile.runctx(
                "for _ in range(n): client.get(url, headers=headers)",
                globals(),
                {"client": client, "url": url, "headers": headers, "n": args.requests},
                str(profile),
            )
            _total, shares = stage_shares(profile, PARTS)
        finally:
            server.kill()
            server.wait()
    print(f"{args.requests} warm GET /v1/resources through the test client: {per_request:.0f} us each (unprofiled)")
    for part, share in shares.items():
        print(f"  {part:45s} {100 * share:5.1f} %")


if __name__ == "__main__":
    main()
