"""Several processes (and threads) resolving the same URL cause exactly one upstream GET."""

from __future__ import annotations

import hashlib
import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ml_data import Resolver, Settings

BODY = hashlib.sha256(b"seed").digest() * (4 * 1024 * 1024 // 32)  # 4 MiB


def _resolve_in_child(url: str, cache_dir: str, barrier) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    resolver = Resolver(Settings(cache_dir=Path(cache_dir), retries=0, read_timeout=30))
    barrier.wait(timeout=30)
    local = resolver.resolve(url)
    return str(local.path), hashlib.sha256(local.path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_processes_share_one_download(file_server, tmp_path):
    # Slow enough that every process is waiting while the first one downloads.
    file_server.add("/big.bin", body=BODY, chunk_size=256 * 1024, chunk_delay=0.05)
    processes = 6
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        barrier = manager.Barrier(processes)
        with context.Pool(processes) as pool:
            results = pool.starmap(
                _resolve_in_child, [(file_server.url("/big.bin"), str(tmp_path / "cache"), barrier)] * processes
            )
    assert file_server.gets("/big.bin") == 1
    assert len({path for path, _ in results}) == 1
    assert {digest for _, digest in results} == {hashlib.sha256(BODY).hexdigest()}


def test_threads_share_one_download(file_server, resolver):
    file_server.add("/t.bin", body=BODY, chunk_size=512 * 1024, chunk_delay=0.02)
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _: resolver.resolve(file_server.url("/t.bin")), range(16)))
    assert file_server.gets("/t.bin") == 1
    assert {r.sha256 for r in results} == {hashlib.sha256(BODY).hexdigest()}
    assert all(r.path.stat().st_size == len(BODY) for r in results)
