"""Reuse, revalidate or download: the pure policy, then the real thing against a loopback server."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from ml_data import Resolver
from ml_data.cache import CacheEntry
from ml_data.cache.freshness import Action, freshness_action
from ml_data.resolvers.registry import KNOWN_KINDS

NOW = 1_000_000.0


def entry(**changes) -> CacheEntry:
    base = CacheEntry(
        key="k",
        path=Path("/x"),
        size=1,
        sha256="0" * 64,
        identity="i",
        source="s",
        kind="http",
        content_type=None,
        etag='"e"',
        last_modified=None,
        created_at=NOW - 100,
        validated_at=NOW - 100,
        last_accessed=NOW - 100,
    )
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize(
    ("cached", "kind", "ttl", "refresh", "expected"),
    [
        (None, "http", 60, False, Action.DOWNLOAD),
        (entry(), "http", 3600, False, Action.REUSE),  # fresh
        (entry(), "http", 60, False, Action.REVALIDATE),  # stale, has an ETag
        (entry(etag=None, last_modified="Mon"), "http", 60, False, Action.REVALIDATE),
        (entry(etag=None), "http", 60, False, Action.DOWNLOAD),  # stale, nothing to revalidate with
        (entry(), "upload", 0, False, Action.REUSE),  # immutable kinds are never asked again
        (entry(), "s3", 0, False, Action.REUSE),
        (entry(), "data_uri", 0, False, Action.REUSE),
        (entry(), "local_files", 60, False, Action.REVALIDATE),
        (entry(), "http", 3600, True, Action.REVALIDATE),  # refresh forces the question
        (entry(), "upload", 3600, True, Action.REVALIDATE),
        (entry(etag=None), "s3", 3600, True, Action.DOWNLOAD),
    ],
)
def test_freshness_action(cached, kind, ttl, refresh, expected):
    immutable = KNOWN_KINDS[kind].immutable
    assert freshness_action(cached, immutable=immutable, now=NOW, ttl=ttl, refresh=refresh) is expected


@pytest.fixture
def stale_resolver(settings) -> Resolver:
    """Every http entry is stale at once."""
    return Resolver(settings.with_changes(cache_ttl=0.0))


def test_unchanged_etag_gets_304_and_no_body(file_server, stale_resolver):
    file_server.add("/doc.pdf", body=b"v1" * 5000, etag='"v1"')
    url = file_server.url("/doc.pdf")
    first = stale_resolver.resolve(url)
    second = stale_resolver.resolve(url)
    assert second.path == first.path and second.path.read_bytes() == b"v1" * 5000
    requests = [r for r in file_server.requests if r.path == "/doc.pdf"]
    assert [r.status for r in requests] == [200, 304]
    assert requests[1].headers["If-None-Match"] == '"v1"'
    assert requests[1].sent == 0
    assert stale_resolver.cache.get(url.lower()).validated_at > stale_resolver.cache.get(url.lower()).created_at


def test_changed_etag_downloads_the_new_content(file_server, stale_resolver):
    route = file_server.add("/doc.pdf", body=b"old", etag='"1"')
    url = file_server.url("/doc.pdf")
    old_path = stale_resolver.resolve(url).path
    route.body, route.etag = b"new content", '"2"'
    new = stale_resolver.resolve(url)
    assert new.path.read_bytes() == b"new content"
    assert new.path == old_path  # same entry, replaced atomically
    assert new.sha256 == hashlib.sha256(b"new content").hexdigest()
    assert [r.status for r in file_server.requests] == [200, 200]


def test_last_modified_is_used_without_an_etag(file_server, stale_resolver):
    stamp = "Wed, 21 Oct 2026 07:28:00 GMT"
    file_server.add("/a.txt", body=b"a", last_modified=stamp)
    stale_resolver.resolve(file_server.url("/a.txt"))
    stale_resolver.resolve(file_server.url("/a.txt"))
    second = file_server.requests[1]
    assert second.headers["If-Modified-Since"] == stamp and second.status == 304


def test_fresh_entries_are_not_asked_about(file_server, resolver):
    file_server.add("/a.txt", body=b"a", etag='"a"')
    for _ in range(3):
        resolver.resolve(file_server.url("/a.txt"))
    assert len(file_server.requests) == 1


def test_refresh_forces_revalidation(file_server, resolver):
    file_server.add("/a.txt", body=b"a", etag='"a"')
    resolver.resolve(file_server.url("/a.txt"))
    resolver.resolve(file_server.url("/a.txt"), refresh=True)
    assert [r.status for r in file_server.requests] == [200, 304]


def test_stale_entry_without_validators_is_downloaded_again(file_server, stale_resolver):
    route = file_server.add("/plain.txt", body=b"one")
    stale_resolver.resolve(file_server.url("/plain.txt"))
    route.body = b"two"
    assert stale_resolver.resolve(file_server.url("/plain.txt")).path.read_bytes() == b"two"


def test_presigned_urls_with_new_signatures_are_not_revalidated(file_server, settings):
    stale_resolver = Resolver(settings.with_changes(cache_ttl=0.0, s3_endpoint_url=file_server.origin))
    file_server.add("/bucket/k.jpg", body=b"k", etag='"k"')
    credential = "X-Amz-Credential=AK%2F20260101%2Fus-east-1%2Fs3%2Faws4_request"
    for signature in ("a", "b", "c"):
        stale_resolver.resolve(file_server.url(f"/bucket/k.jpg?{credential}&X-Amz-Signature={signature}"))
    assert len(file_server.requests) == 1


def test_without_downloads_a_stale_entry_is_still_returned(file_server, stale_resolver):
    file_server.add("/a.txt", body=b"a", etag='"a"')
    cached = stale_resolver.resolve(file_server.url("/a.txt"))
    assert stale_resolver.without_downloads().resolve(file_server.url("/a.txt")).path == cached.path
    assert len(file_server.requests) == 1


def test_hash_verification_never_hands_out_a_corrupt_file(file_server, settings):
    file_server.add("/w.bin", body=b"0123456789" * 100)
    verifying = Resolver(settings.with_changes(cache_verify="hash"))
    path = verifying.resolve(file_server.url("/w.bin")).path
    damaged = bytearray(path.read_bytes())
    damaged[500] ^= 0xFF  # same size: a size check cannot see it
    path.write_bytes(bytes(damaged))
    assert Resolver(settings).resolve(file_server.url("/w.bin")).path.read_bytes() == bytes(damaged)  # size policy
    again = verifying.resolve(file_server.url("/w.bin"))
    assert again.path.read_bytes() == b"0123456789" * 100
    assert file_server.gets("/w.bin") == 2
