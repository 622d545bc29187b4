"""The cloud fetchers' shared core: bounded retries, verified content, nothing partial left,
and an emulator killed in the middle of a transfer."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ml_data import IncompleteDownload, Resolver, UpstreamUnavailable
from ml_data.config import cloud_environment
from ml_data.errors import ResourceTooLarge, UpstreamTimeout
from ml_data.resolvers.base import Announced
from ml_data.resolvers.cloud import fetch_object
from ml_data.resolvers.parse import parse_ref

BODY = b"0123456789" * 100_000


class FlakyStore:
    """An object store whose transfers break after some bytes, the first ``failures`` times."""

    def __init__(self, failures: int, *, md5: str | None = None, body: bytes = BODY) -> None:
        self.failures = failures
        self.transfers = 0
        self.md5 = md5 or hashlib.md5(BODY).hexdigest()
        self.body = body

    def head(self, ref):  # type: ignore[no-untyped-def]
        return Announced(etag='"v1"', size=len(BODY), md5=self.md5)

    def chunks(self, ref, info) -> Iterator[bytes]:  # type: ignore[no-untyped-def]
        self.transfers += 1
        yield self.body[:300_000]
        if self.transfers <= self.failures:
            raise UpstreamUnavailable("connection reset", url=ref.uri)
        yield self.body[300_000:]


def leftovers(resolver: Resolver) -> list[Path]:
    tmp = resolver.cache.root / "tmp"
    return [p for p in tmp.iterdir() if p.suffix == ".part"] if tmp.exists() else []


def test_a_broken_transfer_is_retried_from_scratch(resolver):
    store = FlakyStore(failures=1)
    local = fetch_object(store, parse_ref("s3://bucket/k.bin"), resolver)
    assert local.path.read_bytes() == BODY and store.transfers == 2


def test_retries_are_bounded_and_leave_nothing(resolver):
    store = FlakyStore(failures=99)
    with pytest.raises(UpstreamUnavailable):
        fetch_object(store, parse_ref("s3://bucket/k.bin"), resolver)
    assert store.transfers == resolver.settings.retries + 1
    assert resolver.cache.get("s3://bucket/k.bin") is None and leftovers(resolver) == []


def test_content_that_does_not_match_its_md5_is_refused(resolver):
    store = FlakyStore(failures=0, body=BODY[:-1] + b"X")
    with pytest.raises(IncompleteDownload, match="MD5"):
        fetch_object(store, parse_ref("s3://bucket/k.bin"), resolver)
    assert resolver.cache.get("s3://bucket/k.bin") is None


@pytest.mark.slow
def test_gcs_emulator_killed_mid_download_leaves_no_entry(monkeypatch, settings):
    pytest.importorskip("google.cloud.storage")
    from google.cloud import storage

    from tests.support.servers.cloud_emulators import fake_gcs_server

    big = bytes(range(256)) * (256 * 1024)  # 64 MiB: read as 64 ranged requests
    with fake_gcs_server() as endpoint:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", endpoint)
        client = storage.Client()
        client.create_bucket("killed")
        client.bucket("killed").blob("big.bin").upload_from_string(big)
        resolver = Resolver(settings.with_changes(retries=0, cloud_env=cloud_environment()))
        outcome: dict[str, object] = {}

        def run() -> None:
            try:
                outcome["file"] = resolver.resolve("gs://killed/big.bin")
            except Exception as exc:  # noqa: BLE001 - the test inspects it
                outcome["error"] = exc

        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(p.stat().st_size > 4 * 2**20 for p in leftovers(resolver)):
            time.sleep(0.005)
        # leaving the block stops the emulator while the transfer runs
    thread.join(60)
    assert not thread.is_alive()
    if "file" in outcome:
        pytest.fail("the download finished before the emulator was stopped; the test proved nothing")
    assert isinstance(outcome["error"], IncompleteDownload | UpstreamUnavailable), outcome
    assert resolver.cache.get("gs://killed/big.bin") is None and leftovers(resolver) == []


class SizedStore:
    """A store announcing ``announced`` bytes and streaming ``body`` (a lying size when they differ)."""

    def __init__(self, body: bytes, announced: int | None) -> None:
        self.body = body
        self.announced = announced

    def head(self, ref):  # type: ignore[no-untyped-def]
        return Announced(etag='"v1"', size=self.announced)

    def chunks(self, ref, info) -> Iterator[bytes]:  # type: ignore[no-untyped-def]
        for start in range(0, len(self.body), 1000):
            yield self.body[start : start + 1000]


@pytest.mark.parametrize("announced", [len(BODY), None])
def test_an_object_over_the_size_limit_is_refused_like_any_download(settings, announced):
    """The size cap binds SDK downloads too: on the announced size, and while the bytes arrive."""
    capped = Resolver(settings.with_changes(max_file_size=len(BODY) - 1))
    with pytest.raises(ResourceTooLarge, match="ML_DATA_MAX_FILE_SIZE"):
        fetch_object(SizedStore(BODY, announced), parse_ref("s3://bucket/big.bin"), capped)
    assert capped.cache.get("s3://bucket/big.bin") is None and leftovers(capped) == []


class SlowStore:
    """A store whose stream sends a chunk, then nothing for a while (bounded), then the rest."""

    def head(self, ref):  # type: ignore[no-untyped-def]
        return Announced(etag='"v1"', size=len(BODY))

    def chunks(self, ref, info) -> Iterator[bytes]:  # type: ignore[no-untyped-def]
        yield BODY[:1000]
        time.sleep(0.3)
        yield BODY[1000:]


def test_an_sdk_download_keeps_the_one_deadline(settings):
    """ML_DATA_DOWNLOAD_DEADLINE binds SDK streams too: a stream still running after it fails with
    UpstreamTimeout (no retry begins after it), and nothing is cached."""
    hurried = Resolver(settings.with_changes(download_deadline=0.1))
    with pytest.raises(UpstreamTimeout, match="deadline"):
        fetch_object(SlowStore(), parse_ref("s3://bucket/slow.bin"), hurried)
    assert hurried.cache.get("s3://bucket/slow.bin") is None and leftovers(hurried) == []
