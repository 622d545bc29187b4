"""One contract for every cloud: S3 (moto), GCS (fake-gcs-server), Azure Blob (Azurite), all
started by the suite on 127.0.0.1."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from ml_data import AccessDenied, RemoteNotFound, Resolver, Settings
from ml_data.config import cloud_environment


@dataclass
class Rig:
    scheme: str
    bucket: str
    settings: Settings
    put: Callable[[str, bytes], None]

    def uri(self, key: str) -> str:
        return f"{self.scheme}://{self.bucket}/{key}"


def _s3_rig(s3_settings: Settings) -> Rig:
    import boto3

    bucket = f"bucket-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_settings.s3_endpoint_url)
    client.create_bucket(Bucket=bucket)
    return Rig("s3", bucket, s3_settings, lambda key, body: client.put_object(Bucket=bucket, Key=key, Body=body))


def _gcs_rig(endpoint: str, monkeypatch, settings: Settings) -> Rig:  # type: ignore[no-untyped-def]
    from google.cloud import storage

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", endpoint)
    client = storage.Client()
    # Without the variable the client would silently talk to the real service.
    assert client._connection.API_BASE_URL.startswith("http://127.0.0.1:")
    bucket = f"bucket-{uuid.uuid4().hex[:12]}"
    client.create_bucket(bucket)
    settings = settings.with_changes(cloud_env=cloud_environment())
    return Rig("gs", bucket, settings, lambda key, body: client.bucket(bucket).blob(key).upload_from_string(body))


def _azure_rig(connection_string: str, monkeypatch, settings: Settings) -> Rig:  # type: ignore[no-untyped-def]
    from azure.storage.blob import BlobServiceClient

    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", connection_string)
    settings = settings.with_changes(cloud_env=cloud_environment())
    service = BlobServiceClient.from_connection_string(connection_string)
    container = f"container-{uuid.uuid4().hex[:12]}"
    service.create_container(container)
    return Rig(
        "azure-blob",
        container,
        settings,
        lambda key, body: service.get_blob_client(container, key).upload_blob(body, overwrite=True),
    )


@pytest.fixture(params=["s3", "gcs", "azure"])
def rig(request, monkeypatch, settings) -> Rig:  # type: ignore[no-untyped-def]
    if request.param == "s3":
        return _s3_rig(request.getfixturevalue("s3_settings"))
    if request.param == "gcs":
        return _gcs_rig(request.getfixturevalue("gcs_endpoint"), monkeypatch, settings)
    return _azure_rig(request.getfixturevalue("azurite_connection_string"), monkeypatch, settings)


def test_resolve_downloads_and_verifies(rig):
    rig.put("images/cat.jpg", b"\xff\xd8 cat")
    resolver = Resolver(rig.settings)
    local = resolver.resolve(rig.uri("images/cat.jpg"))
    assert local.path.read_bytes() == b"\xff\xd8 cat" and local.path.name == "cat.jpg" and local.cached
    assert local.kind == {"s3": "s3", "gs": "gcs", "azure-blob": "azure"}[rig.scheme]


def test_a_second_resolve_is_a_hit(rig):
    rig.put("k.bin", b"k")
    resolver = Resolver(rig.settings)
    resolver.resolve(rig.uri("k.bin"))
    entry = resolver.cache.get(rig.uri("k.bin"))
    rig.put("k.bin", b"changed")  # within the TTL nobody asks
    assert resolver.resolve(rig.uri("k.bin")).path.read_bytes() == b"k"
    assert resolver.cache.get(rig.uri("k.bin")).created_at == entry.created_at


def test_changed_object_is_downloaded_again_unchanged_one_never(rig):
    stale = Resolver(rig.settings.with_changes(cache_ttl=0.0))
    rig.put("k.txt", b"one")
    first = stale.resolve(rig.uri("k.txt"))
    created = stale.cache.get(rig.uri("k.txt")).created_at
    stale.resolve(rig.uri("k.txt"))
    entry = stale.cache.get(rig.uri("k.txt"))
    assert entry.created_at == created and entry.validated_at > created  # looked up, not downloaded
    rig.put("k.txt", b"two!")
    second = stale.resolve(rig.uri("k.txt"))
    assert second.path.read_bytes() == b"two!" and second.path == first.path


def test_missing_object_is_a_typed_not_found(rig):
    rig.put("present.txt", b"x")
    with pytest.raises(RemoteNotFound) as info:
        Resolver(rig.settings).resolve(rig.uri("absent.txt"), task_id=3)
    assert isinstance(info.value, FileNotFoundError) and "task 3" in str(info.value)
    assert Resolver(rig.settings).cache.get(rig.uri("absent.txt")) is None


def test_hash_verification_downloads_a_damaged_object_again(rig):
    rig.put("h.bin", b"0123456789")
    verifying = Resolver(rig.settings.with_changes(cache_verify="hash"))
    path = verifying.resolve(rig.uri("h.bin")).path
    path.write_bytes(b"01234X6789")  # same size: only the hash can tell
    assert verifying.resolve(rig.uri("h.bin")).path.read_bytes() == b"0123456789"


@pytest.mark.parametrize("key", ["dir with space/a b.jpg", "plus+sign.jpg", "100%25 sure %.jpg", "猫/图片.png"])
def test_odd_key_names_round_trip(rig, key):
    rig.put(key, key.encode())
    assert Resolver(rig.settings).resolve(rig.uri(key)).path.read_bytes() == key.encode()


def test_direct_fetch_needs_no_label_studio(rig):
    rig.put("x.jpg", b"x")
    assert rig.settings.label_studio_url is None
    assert Resolver(rig.settings).resolve(rig.uri("x.jpg"), task_id=1).path.read_bytes() == b"x"


def test_s3_presigned_url_of_the_same_object_shares_the_entry(s3_settings):
    import boto3

    rig = _s3_rig(s3_settings)
    rig.put("shared.bin", b"shared")
    resolver = Resolver(rig.settings)
    direct = resolver.resolve(rig.uri("shared.bin"))
    signed = boto3.client("s3", endpoint_url=s3_settings.s3_endpoint_url).generate_presigned_url(
        "get_object", Params={"Bucket": rig.bucket, "Key": "shared.bin"}
    )
    assert resolver.parse(signed).identity == rig.uri("shared.bin")
    assert resolver.resolve(signed).path == direct.path


def test_azure_wrong_key_is_access_denied_with_a_hint(azurite_connection_string, monkeypatch, settings):
    from tests.support.servers.cloud_emulators import AZURITE_KEY

    wrong = azurite_connection_string.replace(AZURITE_KEY, "d3Jvbmc=" * 11)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", wrong)
    with pytest.raises(AccessDenied, match="task id") as info:
        Resolver(settings.with_changes(cloud_env=cloud_environment())).resolve("azure-blob://container/x.jpg")
    assert isinstance(info.value, PermissionError)


def test_without_credentials_the_error_names_both_ways(settings):
    for uri in ("s3://bucket/x.jpg", "gs://bucket/x.jpg", "azure-blob://c/x.jpg"):
        with pytest.raises(Exception, match=r"ml-data\[(s3|gcs|azure)\].*task id"):
            Resolver(settings).resolve(uri)


def test_s3_object_is_revalidated_after_the_ttl_however_it_is_reached(s3_settings):
    """One identity, one freshness rule: after the TTL an S3 object reached through a presigned
    URL is asked about (a conditional GET) just as through boto3 (its ETag looked up)."""
    import boto3

    rig = _s3_rig(s3_settings)
    client = boto3.client("s3", endpoint_url=s3_settings.s3_endpoint_url)

    def signed() -> str:
        return client.generate_presigned_url("get_object", Params={"Bucket": rig.bucket, "Key": "k.txt"})

    stale = Resolver(rig.settings.with_changes(cache_ttl=0.0))
    rig.put("k.txt", b"one")
    assert stale.resolve(rig.uri("k.txt")).path.read_bytes() == b"one"
    rig.put("k.txt", b"two")
    assert stale.resolve(signed()).path.read_bytes() == b"two"  # was reused for ever: "one"
    created = stale.cache.get(rig.uri("k.txt")).created_at
    assert stale.resolve(signed()).path.read_bytes() == b"two"  # unchanged: a 304, no download
    assert stale.resolve(rig.uri("k.txt")).path.read_bytes() == b"two"  # the same ETag through boto3
    assert stale.cache.get(rig.uri("k.txt")).created_at == created
    rig.put("k.txt", b"three")
    assert stale.resolve(rig.uri("k.txt")).path.read_bytes() == b"three"
    fresh = Resolver(rig.settings)
    rig.put("k.txt", b"four")
    assert fresh.resolve(signed()).path.read_bytes() == b"three"  # within the TTL nobody asks
