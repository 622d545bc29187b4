"""Where a resolve's time goes: the steps of a first look at a cached file in a new process, and a
profile of cold downloads grouped by stage.

    .venv/bin/python -m benchmarks.profile_resolve            # 2,000 files of 50 KB
    .venv/bin/python -m benchmarks.profile_resolve --count 500

Files are served on 127.0.0.1 as in bench_resolve.py (nginx when installed). First look: a fresh
process times ``Resolver.parse``, ``Ref.identity``, ``Cache.get`` and ``LocalFile.from_entry`` for
every cached file (microseconds per file). Downloads: cProfile over one thread resolving ``--count``
files into an empty cache, each stage's cumulative share of the total.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.bench_resolve import make_files, start_server
from benchmarks.profiling import stage_shares

_FIRST_LOOK = """
import json, sys, time
from pathlib import Path
from ml_data import Settings
from ml_data.resolvers.base import LocalFile
from ml_data.resolvers.resolver import Resolver
cache, urls = sys.argv[1], sys.argv[2:]
resolver = Resolver(Settings(cache_dir=Path(cache)))
resolver.resolve(urls[0])
spent = dict.fromkeys(("parse", "identity", "cache lookup", "result object"), 0.0)
for url in urls[1:]:
    a = time.perf_counter(); ref = resolver.parse(url)
    b = time.perf_counter(); identity = ref.identity
    c = time.perf_counter(); entry = resolver.cache.get(identity)
    d = time.perf_counter(); LocalFile.from_entry(entry, ref)
    e = time.perf_counter()
    for name, seconds in zip(spent, (b - a, c - b, d - c, e - d)):
        spent[name] += seconds
print(json.dumps({name: seconds / (len(urls) - 1) * 1e6 for name, seconds in spent.items()}))
"""

_DOWNLOADS = """
import cProfile, sys
from pathlib import Path
from ml_data import Settings
from ml_data.resolvers.resolver import Resolver
cache, out, urls = sys.argv[1], sys.argv[2], sys.argv[3:]
resolver = Resolver(Settings(cache_dir=Path(cache)))
cProfile.run("for url in urls: resolver.resolve(url)", out)
"""

#: Stages of a download, by the function whose cumulative time is the stage's.
STAGES = {
    "HTTP exchange (requests, urllib3, http.client)": ("ml_data/http.py", "request"),
    "  preparing the request": ("requests/models.py", "prepare"),
    "  requests' adapter": ("requests/adapters.py", "send"),
    "  http.client reading headers": ("http/client.py", "parse_headers"),
    "streaming and hashing the body": ("ml_data/cache/pending.py", "write_all"),
    "committing to the cache": ("ml_data/cache/pending.py", "commit"),
    "temp file": ("ml_data/cache/pending.py", "__init__"),
    "per-entry lock: its folder": ("ml_data/cache/store.py", "_lock"),
    "per-entry lock: taking and releasing it": ("ml_data/cache/locks.py", "held"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ml-data-profile-") as tmp:
        root = Path(tmp)
        make_files(root / "files", args.count, 50_000, 0)
        server, origin = start_server(root / "files", "nginx" if shutil.which("nginx") else "python")
        try:
            urls = [f"{origin}/small/img_{index:05d}.jpg" for index in range(args.count)]
            profile = root / "downloads.prof"
            run = [sys.executable, "-c"]
            subprocess.run([*run, _DOWNLOADS, str(root / "cache"), str(profile), *urls], check=True)
            first_look = json.loads(
                subprocess.run(
                    [*run, _FIRST_LOOK, str(root / "cache"), *urls], check=True, capture_output=True, text=True
                ).stdout
            )
            _total, shares = stage_shares(profile, STAGES)  # read before the folder goes
        finally:
            server.kill()
            server.wait()
    print(f"first look at a cached file, new process, {args.count} files (us per file)")
    for step, micros in first_look.items():
        print(f"  {step:16s} {micros:7.1f}")
    print(f"  {'total':16s} {sum(first_look.values()):7.1f}")
    print(f"cold downloads, one thread, {args.count} files: share of the profiled time")
    for stage, share in shares.items():
        print(f"  {stage:48s} {100 * share:5.1f} %")


if __name__ == "__main__":
    main()
