"""s3:// through boto3 against moto's S3 server on loopback."""

from __future__ import annotations

import hashlib
import uuid

import boto3
import pytest

from ml_data import RemoteNotFound, Resolver, Settings


@pytest.fixture
def bucket(s3_settings: Settings) -> str:
    name = f"bucket-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_settings.s3_endpoint_url).create_bucket(Bucket=name)
    return name


def put(settings: Settings, bucket: str, key: str, body: bytes) -> None:
    boto3.client("s3", endpoint_url=settings.s3_endpoint_url).put_object(Bucket=bucket, Key=key, Body=body)


def test_object_is_downloaded_once_and_verified(s3_settings, bucket):
    put(s3_settings, bucket, "images/cat.jpg", b"\xff\xd8 cat")
    resolver = Resolver(s3_settings)
    local = resolver.resolve(f"s3://{bucket}/images/cat.jpg")
    assert local.path.read_bytes() == b"\xff\xd8 cat" and local.kind == "s3" and local.path.name == "cat.jpg"
    entry = resolver.cache.get(f"s3://{bucket}/images/cat.jpg")
    assert entry.etag == '"' + hashlib.md5(b"\xff\xd8 cat").hexdigest() + '"'
    again = resolver.resolve(f"s3://{bucket}/images/cat.jpg")
    assert again.path == local.path
    assert resolver.cache.get(f"s3://{bucket}/images/cat.jpg").created_at == entry.created_at


@pytest.mark.parametrize(
    "key", ["dir with space/a b.jpg", "plus+sign.jpg", "100%25 sure %.jpg", "猫/图片.png", "a#b?c.txt"]
)
def test_odd_key_names_round_trip(s3_settings, bucket, key):
    put(s3_settings, bucket, key, key.encode())
    assert Resolver(s3_settings).resolve(f"s3://{bucket}/{key}").path.read_bytes() == key.encode()


def test_changed_object_is_downloaded_again_unchanged_one_never(s3_settings, bucket):
    stale = Resolver(s3_settings.with_changes(cache_ttl=0.0))
    put(s3_settings, bucket, "k.txt", b"one")
    first = stale.resolve(f"s3://{bucket}/k.txt")
    created = stale.cache.get(f"s3://{bucket}/k.txt").created_at
    stale.resolve(f"s3://{bucket}/k.txt")  # revalidated with a HEAD: same ETag, no download
    entry = stale.cache.get(f"s3://{bucket}/k.txt")
    assert entry.created_at == created and entry.validated_at > created
    put(s3_settings, bucket, "k.txt", b"two!")
    second = stale.resolve(f"s3://{bucket}/k.txt")
    assert second.path.read_bytes() == b"two!" and second.path == first.path


def test_fresh_entries_are_not_revalidated(s3_settings, bucket):
    put(s3_settings, bucket, "k.txt", b"one")
    resolver = Resolver(s3_settings)
    resolver.resolve(f"s3://{bucket}/k.txt")
    put(s3_settings, bucket, "k.txt", b"two")
    assert resolver.resolve(f"s3://{bucket}/k.txt").path.read_bytes() == b"one"  # within the TTL
    assert resolver.resolve(f"s3://{bucket}/k.txt", refresh=True).path.read_bytes() == b"two"


def test_missing_object_and_bucket_are_not_found(s3_settings, bucket):
    resolver = Resolver(s3_settings)
    with pytest.raises(RemoteNotFound) as info:
        resolver.resolve(f"s3://{bucket}/nope.jpg", task_id=3)
    assert isinstance(info.value, FileNotFoundError) and "task 3" in str(info.value)
    with pytest.raises(RemoteNotFound):
        resolver.resolve("s3://no-such-bucket-here/x.jpg")


def test_direct_fetch_needs_no_label_studio(s3_settings, bucket):
    put(s3_settings, bucket, "x.jpg", b"x")
    assert s3_settings.label_studio_url is None
    assert Resolver(s3_settings).resolve(f"s3://{bucket}/x.jpg", task_id=1).path.read_bytes() == b"x"


def test_presigned_url_of_the_same_object_shares_the_entry(s3_settings, bucket):
    put(s3_settings, bucket, "shared.bin", b"shared")
    resolver = Resolver(s3_settings)
    direct = resolver.resolve(f"s3://{bucket}/shared.bin")
    signed = boto3.client("s3", endpoint_url=s3_settings.s3_endpoint_url).generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "shared.bin"}
    )
    assert resolver.parse(signed).identity == f"s3://{bucket}/shared.bin"
    assert resolver.resolve(signed).path == direct.path
