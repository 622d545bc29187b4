"""What a hostile file server cannot make a download do: expand a compressed body, pass a partial
body (or a 204, a 304, an unfollowed 3xx...) off as the file, store chunk framing, make a malformed
length count, grow past the size cap, or hold a download (and its lock) for ever."""

from __future__ import annotations

import gzip
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ml_data import Resolver
from ml_data.errors import ResourceTooLarge, UnacceptableResponse, UpstreamError, UpstreamTimeout
from ml_data.resolvers import http_source
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


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (204, {}),
        (203, {}),
        (299, {}),
        (999, {}),
        (300, {"Location": "/ok.jpg"}),
        (305, {"Location": "/ok.jpg"}),
        (304, {}),
        (301, {}),
    ],
)
def test_only_a_200_is_the_file(file_server, resolver, status, headers):
    """Regression: 204, 299, 999, an unfollowed 300/305 and a 304 to a plain GET were cached as the
    file. Each is a typed error naming the status and the URL (redacted), and is not retried."""
    body = b"" if status in (204, 304) else b"not the file"  # no body where HTTP allows none
    file_server.add("/ok.jpg", body=b"the file")
    file_server.add("/odd.jpg", status=status, body=body, headers=headers)
    with pytest.raises(UpstreamError) as info:
        resolver.resolve(file_server.url("/odd.jpg?token=SECRET"))
    message = str(info.value)
    assert f"HTTP {status}" in message and "/odd.jpg" in message and "SECRET" not in message
    assert file_server.gets("/odd.jpg") == 1 and file_server.gets("/ok.jpg") == 0
    assert nothing_cached(resolver)


def test_a_transfer_coding_that_was_not_offered_is_refused(file_server, resolver):
    """Regression: Transfer-Encoding: gzip, chunked stored the gzip bytes in their chunk framing."""
    file_server.add("/framed.jpg", body=b"the file " * 100, transfer_encoding="gzip, chunked")
    with pytest.raises(UnacceptableResponse, match="Transfer-Encoding: gzip, chunked"):
        resolver.resolve(file_server.url("/framed.jpg"))
    assert nothing_cached(resolver)


def test_a_chunked_body_is_stored_without_its_framing(file_server, resolver):
    file_server.add("/chunked.jpg", body=b"the file " * 300, transfer_encoding="chunked")
    assert resolver.resolve(file_server.url("/chunked.jpg")).path.read_bytes() == b"the file " * 300


@pytest.mark.parametrize("announced", ["-1", "+4", "4_0", " 4 4", "0x4", "4, 5", ""])
def test_a_malformed_content_length_is_refused_not_retried(file_server, resolver, announced):
    """Regression: Content-Length: -1 was reported as "-1 were announced" and retried; +4 and 4_0
    passed int() and were taken as lengths."""
    file_server.add("/length.jpg", body=b"abcd", content_length=announced)
    with pytest.raises(UnacceptableResponse, match="malformed.*Content-Length"):
        resolver.resolve(file_server.url("/length.jpg"))
    assert file_server.gets("/length.jpg") == 1
    assert nothing_cached(resolver)


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=12))
def test_a_content_length_is_only_ascii_digits(value):
    """Whatever the header says, the length read is ASCII digits (repeated identically in a list)
    or the answer is refused."""
    try:
        length = http_source.parse_content_length(value, url="http://h/x")
    except UnacceptableResponse:
        return
    parts = {part.strip(" \t") for part in value.split(",")}
    assert len(parts) == 1 and set(next(iter(parts))) <= set("0123456789")
    assert length == int(next(iter(parts)))


@given(st.integers(min_value=0, max_value=2**64), st.integers(min_value=1, max_value=3))
def test_a_well_formed_content_length_is_read(length, repeats):
    assert http_source.parse_content_length(", ".join([str(length)] * repeats), url="http://h/x") == length
