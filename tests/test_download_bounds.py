"""What a hostile file server cannot make a download do: expand a compressed body, pass a partial
body off as the file, grow past the size cap, or hold a download (and its lock) for ever."""

from __future__ import annotations

import gzip
import time

import pytest

from ml_data import Resolver
from ml_data.errors import ResourceTooLarge, UnacceptableResponse, UpstreamTimeout
from ml_data.service import ServiceSettings, create_app


def nothing_cached(resolver: Resolver) -> bool:
    tmp = resolver.cache.root / "tmp"
    return resolver.cache.scan().entries == () and (not tmp.exists() or not any(tmp.iterdir()))


def test_a_compressed_body_is_refused_not_expanded(file_server, resolver):
    """Regression: Content-Encoding: gzip despite identity turned 300 KB into a 300 MB file."""
    bomb = gzip.compress(b"\0" * (30 * 1024 * 1024))
    file_server.add("/bomb.jpg", body=bomb, headers={"Content-Encoding": "gzip"})
    with pytest.raises(UnacceptableResponse, match="Content-Encoding: gzip"):
        resolver.resolve(file_server.url("/bomb.jpg"))
    assert file_server.requests[0].headers.get("Accept-Encoding") == "identity"
    assert nothing_cached(resolver)


def test_a_partial_answer_to_a_plain_get_is_refused(file_server, resolver):
    """Regression: a 206 with Content-Range bytes 0-99/1000 was stored as the complete file."""
    file_server.add("/part.jpg", body=b"x" * 100, status=206, headers={"Content-Range": "bytes 0-99/1000"})
    with pytest.raises(UnacceptableResponse, match="206"):
        resolver.resolve(file_server.url("/part.jpg"))
    assert nothing_cached(resolver)


def test_an_announced_size_over_the_cap_is_refused_before_the_body(file_server, settings):
    resolver = Resolver(settings.with_changes(max_file_size=1000))
    file_server.add("/big.bin", body=b"b" * 5000)
    with pytest.raises(ResourceTooLarge, match="1,000-byte limit"):
        resolver.resolve(file_server.url("/big.bin"))
    assert nothing_cached(resolver)


def test_a_body_without_length_stops_at_the_cap(file_server, settings):
    resolver = Resolver(settings.with_changes(max_file_size=100_000))
    file_server.add("/endless.bin", body=b"e" * 1_000_000, no_length=True, chunk_size=16_384)
    with pytest.raises(ResourceTooLarge):
        resolver.resolve(file_server.url("/endless.bin"))
    assert nothing_cached(resolver)


def test_a_body_within_the_cap_and_without_length_is_stored(file_server, settings):
    resolver = Resolver(settings.with_changes(max_file_size=100_000))
    file_server.add("/small.bin", body=b"s" * 50_000, no_length=True)
    assert resolver.resolve(file_server.url("/small.bin")).path.read_bytes() == b"s" * 50_000


def test_the_service_applies_its_own_lower_cap(file_server, settings):
    file_server.add("/big.bin", body=b"b" * 5000)
    app = create_app(settings, ServiceSettings(token="t", allow=(file_server.origin,), max_file_size=1000))
    response = app.test_client().get(
        "/v1/resources", query_string={"url": file_server.url("/big.bin")}, headers={"Authorization": "Bearer t"}
    )
    assert response.status_code == 502 and "limit" in response.get_json()["message"]


def test_a_trickling_server_hits_the_overall_deadline(file_server, settings):
    """Regression: one byte every 1.5 s under a 2 s read timeout held a resolve for a minute."""
    resolver = Resolver(settings.with_changes(read_timeout=2.0, download_deadline=1.5, retries=3))
    file_server.add("/trickle.bin", body=b"t" * 60, chunk_size=1, chunk_delay=0.25)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout, match="deadline"):
        resolver.resolve(file_server.url("/trickle.bin"))
    assert time.monotonic() - started < 5
    assert nothing_cached(resolver)
    # The entry's lock was released: the same URL can be fetched once the server behaves.
    file_server.routes["/trickle.bin"].chunk_delay = 0.0
    assert resolver.resolve(file_server.url("/trickle.bin")).size == 60
