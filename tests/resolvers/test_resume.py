"""Broken transfers of large objects resume where they stopped, and the result is verified."""

from __future__ import annotations

import hashlib
import os
import tracemalloc

from ml_data import IncompleteDownload, Resolver
from ml_data.cache.pending import _Digest
from ml_data.http import CHUNK_SIZE

BIG = os.urandom(3 * 1024 * 1024)


def test_truncated_transfer_resumes_with_a_range_request(file_server, resolver):
    file_server.add("/big.bin", body=BIG, etag='"big"', ranges=True, truncate_at=1_000_000, fault_times=1)
    local = resolver.resolve(file_server.url("/big.bin"))
    assert local.sha256 == hashlib.sha256(BIG).hexdigest()
    first, second = file_server.requests
    assert "Range" not in first.headers and first.sent == 1_000_000
    assert second.headers["Range"] == "bytes=1000000-" and second.headers["If-Range"] == '"big"'
    assert second.status == 206 and second.sent == len(BIG) - 1_000_000


def test_reset_transfer_resumes_too(file_server, resolver):
    file_server.add(
        "/big.bin",
        body=BIG,
        last_modified="Mon, 02 Nov 2026 10:00:00 GMT",
        ranges=True,
        reset_at=2_000_000,
        fault_times=1,
    )
    assert resolver.resolve(file_server.url("/big.bin")).sha256 == hashlib.sha256(BIG).hexdigest()
    assert file_server.requests[1].headers["Range"].startswith("bytes=")
    assert sum(r.sent for r in file_server.requests) <= len(BIG) + 2_000_000


def test_server_without_ranges_restarts_from_zero(file_server, resolver):
    file_server.add("/big.bin", body=BIG, etag='"big"', truncate_at=1_000_000, fault_times=1)
    assert resolver.resolve(file_server.url("/big.bin")).sha256 == hashlib.sha256(BIG).hexdigest()
    assert "Range" not in file_server.requests[1].headers


def test_weak_etag_alone_does_not_allow_resuming(file_server, resolver):
    file_server.add("/big.bin", body=BIG, etag='W/"weak"', ranges=True, truncate_at=1_000_000, fault_times=1)
    assert resolver.resolve(file_server.url("/big.bin")).sha256 == hashlib.sha256(BIG).hexdigest()
    assert "Range" not in file_server.requests[1].headers


def test_object_that_changed_meanwhile_is_downloaded_whole(file_server, resolver):
    new_body = BIG[::-1]

    def replace_object(route):
        route.body, route.etag, route.after_answer = new_body, '"v2"', None

    file_server.add(
        "/big.bin",
        body=BIG,
        etag='"v1"',
        ranges=True,
        truncate_at=1_000_000,
        fault_times=1,
        after_answer=replace_object,
    )
    local = resolver.resolve(file_server.url("/big.bin"))
    # If-Range no longer matches, so the server sends the new object whole: never a mix of both.
    assert local.path.read_bytes() == new_body
    second = file_server.requests[1]
    assert second.headers["If-Range"] == '"v1"' and second.status == 200
    assert resolver.cache.get(file_server.url("/big.bin")).etag == '"v2"'


def test_gives_up_after_the_retries(file_server, settings):
    file_server.add("/big.bin", body=BIG, etag='"big"', ranges=True, truncate_at=100)
    resolver = Resolver(settings.with_changes(retries=1))
    try:
        resolver.resolve(file_server.url("/big.bin"))
    except IncompleteDownload:
        pass
    else:  # pragma: no cover
        raise AssertionError("expected IncompleteDownload")
    assert len(file_server.requests) == 2
    assert resolver.cache.get(file_server.url("/big.bin")) is None


def test_memory_stays_bounded_whatever_the_size(file_server, resolver):
    body = b"\x00" * (48 * 1024 * 1024)
    file_server.add("/huge.bin", body=body, chunk_size=1024 * 1024)
    tracemalloc.start()
    try:
        local = resolver.resolve(file_server.url("/huge.bin"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert local.size == len(body)
    assert local.sha256 == hashlib.sha256(body).hexdigest()  # hashed in a thread past 8 MiB
    # The server thread holds the body itself (48 MiB, allocated before tracing started); the
    # client side holds at most the hashing queue and the chunks being read, written and hashed.
    assert peak < (_Digest._QUEUE_CHUNKS + 4) * CHUNK_SIZE, peak
    assert peak < len(body) / 3
