"""The cache's promises under real faults, with real processes and a real server on loopback."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ml_data import Resolver, Settings

pytestmark = pytest.mark.slow


def _bodies(count: int, size: int) -> dict[str, bytes]:
    return {f"/f{index:03d}.bin": hashlib.sha256(str(index).encode()).digest() * (size // 32) for index in range(count)}


def _bulk_in_child(urls: list[str], cache_dir: str, barrier) -> dict[str, str]:  # type: ignore[no-untyped-def]
    from ml_data import resolve_many

    settings = Settings(cache_dir=Path(cache_dir), retries=0, read_timeout=30)
    barrier.wait(timeout=60)
    result = resolve_many(urls, workers=8, progress=False, settings=settings)
    assert result.ok, result.errors
    return {url: hashlib.sha256(local.path.read_bytes()).hexdigest() for url, local in result.files.items()}


def test_eight_processes_two_hundred_urls_two_hundred_gets(file_server, tmp_path):
    bodies = _bodies(200, 16 * 1024)
    for path, body in bodies.items():
        file_server.add(path, body=body, chunk_size=4096, chunk_delay=0.001)
    urls = [file_server.url(path) for path in bodies]
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        barrier = manager.Barrier(8)
        with context.Pool(8) as pool:
            results = pool.starmap(_bulk_in_child, [(urls, str(tmp_path / "cache"), barrier)] * 8)
    assert sum(1 for r in file_server.requests if r.method == "GET") == 200
    assert all(file_server.gets(path) == 1 for path in bodies)
    expected = {file_server.url(path): hashlib.sha256(body).hexdigest() for path, body in bodies.items()}
    assert all(result == expected for result in results)


_CHILD = """
import sys
from pathlib import Path
from ml_data import Resolver, Settings
Resolver(Settings(cache_dir=Path(sys.argv[1]), retries=0)).resolve(sys.argv[2])
"""


def test_a_process_killed_mid_download_leaves_nothing_that_is_served(file_server, tmp_path):
    body = os.urandom(8 * 1024 * 1024)
    route = file_server.add("/killed.bin", body=body, chunk_size=64 * 1024, chunk_delay=0.05)
    url = file_server.url("/killed.bin")
    cache_dir = tmp_path / "cache"
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(cache_dir), url])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(r.sent >= 1024 * 1024 for r in file_server.requests):
            time.sleep(0.02)
        assert any(r.sent >= 1024 * 1024 for r in file_server.requests), "the download never got going"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL

    resolver = Resolver(Settings(cache_dir=cache_dir, retries=0, lock_timeout=10, cache_writer_timeout=60.0))
    assert resolver.cache.get(url) is None  # the partial download is not an entry
    parts = list((cache_dir / "tmp").glob("*.part"))
    assert len(parts) == 1 and parts[0] not in resolver.cache.scan().leftovers  # its heartbeat is recent
    long_ago = time.time() - 3600
    os.utime(parts[0], (long_ago, long_ago))  # silent for an hour: its writer is gone
    leftovers = [p for p in resolver.cache.scan().leftovers if p.suffix == ".part"]
    assert len(leftovers) == 1 and f".{child.pid}." in leftovers[0].name

    route.chunk_delay = 0.0
    local = resolver.resolve(url)  # the dead process's lock died with it: no waiting
    assert local.sha256 == hashlib.sha256(body).hexdigest()
    assert file_server.gets("/killed.bin") == 2
    assert resolver.cache.prune().leftovers_removed == 1
    assert not leftovers[0].exists()


def _read_loop(base_url: str, names: list[str], expected: dict[str, str], cache_dir: str, rounds: int, seed: int):  # type: ignore[no-untyped-def]
    import random

    settings = Settings(cache_dir=Path(cache_dir), cache_max_size=400_000, cache_eviction_grace=0.2, retries=2)
    resolver = Resolver(settings)
    rng = random.Random(seed)
    problems = []
    for _ in range(rounds):
        time.sleep(0.01)
        name = rng.choice(names)
        local = resolver.resolve(base_url + name)
        time.sleep(0.005)  # a backend gets a path, then opens it a moment later
        try:
            with open(local.path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            problems.append(f"missing {name}")
            continue
        if hashlib.sha256(data).hexdigest() != expected[name]:
            problems.append(f"partial or wrong {name}: {len(data)} bytes")
    return problems


def _evict_loop(cache_dir: str, seconds: float) -> int:
    """What a cron job running ``ml-data cache prune`` does, in a tight loop."""
    from ml_data import Cache

    cache = Cache(Path(cache_dir), max_size=400_000, grace_seconds=0.2)
    removed = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        removed += len(cache.evict().removed)
        time.sleep(0.02)
    return removed


def test_eviction_never_pulls_a_file_from_under_a_reader(file_server, tmp_path):
    bodies = _bodies(30, 64 * 1024)  # 1.9 MB of files for a 400 KB cache
    for path, body in bodies.items():
        file_server.add(path, body=body)
    expected = {path: hashlib.sha256(body).hexdigest() for path, body in bodies.items()}
    cache_dir = str(tmp_path / "cache")
    context = multiprocessing.get_context("spawn")
    with context.Pool(5) as pool:
        evictor = pool.apply_async(_evict_loop, (cache_dir, 3.0))
        problems = pool.starmap(
            _read_loop, [(file_server.origin, list(bodies), expected, cache_dir, 200, seed) for seed in range(4)]
        )
        evicted = evictor.get(timeout=60)
    assert problems == [[], [], [], []]
    assert evicted > 0
    downloads = sum(1 for r in file_server.requests if r.method == "GET")
    assert downloads > 30, "nothing was ever evicted: the test proved nothing"
