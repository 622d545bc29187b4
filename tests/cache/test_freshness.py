"""Reuse, revalidate or download: the pure policy, then the real thing against a loopback server."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from ml_data import Resolver
from ml_data.cache import CacheEntry
from ml_data.cache.freshness import Action, freshness_action
from ml_data.resolvers.base import Announced
from ml_data.resolvers.cloud import fetch_object
from ml_data.resolvers.parse import parse_ref
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
        (entry(), "data_uri", 0, False, Action.REUSE),
        (entry(), "s3", 3600, False, Action.REUSE),  # cloud objects: trusted for the TTL,
        (entry(), "s3", 60, False, Action.REVALIDATE),  # then asked, however they were reached
        (entry(), "gcs", 60, False, Action.REVALIDATE),
        (entry(etag=None), "azure", 60, False, Action.DOWNLOAD),
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


def test_with_an_etag_the_date_is_not_sent(file_server, stale_resolver):
    """Last-Modified counts whole seconds, and some servers (moto's S3) answer 304 on the date even
    when the ETag differs: with an ETag only the ETag is asked about."""
    stamp = "Wed, 21 Oct 2026 07:28:00 GMT"
    route = file_server.add("/a.txt", body=b"a", etag='"a"', last_modified=stamp)
    stale_resolver.resolve(file_server.url("/a.txt"))
    route.body, route.etag = b"b", '"b"'  # changed within the same second
    assert stale_resolver.resolve(file_server.url("/a.txt")).path.read_bytes() == b"b"
    second = file_server.requests[1]
    assert second.headers["If-None-Match"] == '"a"' and "If-Modified-Since" not in second.headers


def test_stale_entry_without_validators_is_downloaded_again(file_server, stale_resolver):
    route = file_server.add("/plain.txt", body=b"one")
    stale_resolver.resolve(file_server.url("/plain.txt"))
    route.body = b"two"
    assert stale_resolver.resolve(file_server.url("/plain.txt")).path.read_bytes() == b"two"


def test_presigned_urls_with_new_signatures_share_one_fresh_entry(file_server, settings):
    resolver = Resolver(settings.with_changes(s3_endpoint_url=file_server.origin))
    file_server.add("/bucket/k.jpg", body=b"k", etag='"k"')
    credential = "X-Amz-Credential=AK%2F20260101%2Fus-east-1%2Fs3%2Faws4_request"
    for signature in ("a", "b", "c"):
        resolver.resolve(file_server.url(f"/bucket/k.jpg?{credential}&X-Amz-Signature={signature}"))
    assert len(file_server.requests) == 1


class ServedStore:
    """A cloud SDK's view of the object the file server serves at ``route``."""

    def __init__(self, route, last_modified: str | None = None) -> None:  # type: ignore[no-untyped-def]
        self.route = route
        self.last_modified = last_modified
        self.lookups = 0

    def head(self, ref) -> Announced:  # type: ignore[no-untyped-def]
        self.lookups += 1
        return Announced(size=len(self.route.body), etag=self.route.etag, last_modified=self.last_modified)

    def chunks(self, ref, announced) -> Iterator[bytes]:  # type: ignore[no-untyped-def]
        yield self.route.body


def test_a_cloud_object_is_kept_fresh_the_same_way_whichever_way_it_is_reached(file_server, settings):
    """``s3://bucket/k.jpg`` through a presigned URL and through the SDK is one entry under one
    rule: trusted for the TTL, then asked whether it changed (a conditional GET on the URL at
    hand, or the SDK's lookup); only a new version is downloaded."""
    route = file_server.add("/bucket/k.jpg", body=b"one", etag='"1"')
    store = ServedStore(route)
    presigned = file_server.url("/bucket/k.jpg?X-Amz-Signature=a")
    fresh = Resolver(settings.with_changes(s3_endpoint_url=file_server.origin))
    stale = Resolver(settings.with_changes(s3_endpoint_url=file_server.origin, cache_ttl=0.0))
    assert stale.parse(presigned).identity == "s3://bucket/k.jpg"

    def via_sdk(resolver: Resolver) -> bytes:
        return fetch_object(store, parse_ref("s3://bucket/k.jpg"), resolver).path.read_bytes()

    assert stale.resolve(presigned).path.read_bytes() == b"one"
    route.body, route.etag = b"two", '"2"'
    # Within the TTL neither way asks.
    assert fresh.resolve(presigned).path.read_bytes() == b"one"
    assert via_sdk(fresh) == b"one" and store.lookups == 0
    # After it both do: the SDK's lookup...
    assert via_sdk(stale) == b"two" and store.lookups == 1
    route.body, route.etag = b"three", '"3"'
    # ...and a conditional GET on the presigned URL (an entry reached this way was once reused for ever).
    assert stale.resolve(presigned).path.read_bytes() == b"three"
    assert file_server.requests[1].headers["If-None-Match"] == '"2"'
    created = stale.cache.get("s3://bucket/k.jpg").created_at
    # Unchanged: confirmed either way, nothing downloaded.
    assert stale.resolve(presigned).path.read_bytes() == b"three" and via_sdk(stale) == b"three"
    assert [r.status for r in file_server.requests] == [200, 200, 304] and store.lookups == 2
    assert stale.cache.get("s3://bucket/k.jpg").created_at == created


def test_a_version_that_is_no_http_validator_is_never_sent_as_one(file_server, settings):
    """An entry written through an SDK may hold a GCS generation and an ISO date: asked about over
    HTTP, it is fetched with a plain GET (a malformed If-None-Match or If-Modified-Since could be
    misread), and what comes back replaces it."""
    route = file_server.add("/bucket/g.bin", body=b"old", etag="1700000000000000")
    stale = Resolver(settings.with_changes(s3_endpoint_url=file_server.origin, cache_ttl=0.0))
    fetch_object(ServedStore(route, "2026-01-02T03:04:05+00:00"), parse_ref("s3://bucket/g.bin"), stale)
    entry = stale.cache.get("s3://bucket/g.bin")
    assert (entry.etag, entry.last_modified) == ("1700000000000000", "2026-01-02T03:04:05+00:00")
    route.body, route.etag = b"new", '"2"'
    assert stale.resolve(file_server.url("/bucket/g.bin?X-Amz-Signature=s")).path.read_bytes() == b"new"
    (request,) = file_server.requests
    assert "If-None-Match" not in request.headers and "If-Modified-Since" not in request.headers


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
