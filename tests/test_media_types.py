"""Content types enter the cache checked, from every source (data: URIs, HTTP, clouds), and come
out checked, whatever an older version or a hand edit left in an entry's metadata."""

from __future__ import annotations

import json
import re
import string
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ml_data import Resolver
from ml_data.cache import Cache
from ml_data.media_types import OCTET_STREAM, media_type
from ml_data.resolvers.base import Announced
from ml_data.resolvers.cloud import fetch_object
from ml_data.resolvers.parse import parse_ref

LONG = "image/" + "x" * 5000
HOSTILE = [
    "text/plain\r\nSet-Cookie: a=b",
    "text/plain\nX-Injected: 1",
    "image/png\x00",
    "image/png\x01",
    "text/html\x7f",
    "text/\u212aey",  # the Kelvin sign lower-cases to an ASCII "k"
    "image\u00e9/png",
    LONG,
    "image png",
    "image/",
    "/png",
    "image/png/x",
    "a" * 300,
]
_HEADER_SAFE = re.compile(r"[!#$%&'*+.^_`|~0-9a-z-]{1,127}/[!#$%&'*+.^_`|~0-9a-z-]{1,127}")


def meta_of(cache: Cache, identity: str) -> dict:
    entry = cache.get(identity)
    assert entry is not None
    return json.loads((entry.path.parent / ".meta.json").read_text("utf-8"))


@pytest.mark.parametrize("value", HOSTILE)
def test_anything_but_a_type_and_subtype_is_opaque_bytes(value):
    assert media_type(value) == OCTET_STREAM


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Image/PNG; charset=binary", "image/png"),
        (" text/csv\t", "text/csv"),
        ("application/vnd.api+json;x=\r\n", "application/vnd.api+json"),  # parameters are dropped
        ("", None),
        (None, None),
        (42, OCTET_STREAM),
        (["image/png"], OCTET_STREAM),
    ],
)
def test_parameters_are_dropped_and_the_rest_lower_cased(value, expected):
    assert media_type(value) == expected


@given(st.one_of(st.text(), st.text(alphabet=string.printable + "\u212a\x00\x7f/;", max_size=300)))
def test_the_result_is_always_safe_in_a_header_and_stable(value):
    checked = media_type(value)
    assert checked is None or _HEADER_SAFE.fullmatch(checked)
    assert media_type(checked) == checked


@pytest.mark.parametrize("value", ["text/plain\r\nX-Injected: 1", "image/png\x01", LONG])
def test_a_data_uri_media_type_is_checked_before_it_is_stored(resolver, value):
    uri = f"data:{value};base64,aGVsbG8="
    local = resolver.resolve(uri)
    assert local.content_type == OCTET_STREAM and local.path.read_bytes() == b"hello"
    assert meta_of(resolver.cache, parse_ref(uri).identity)["content_type"] == OCTET_STREAM


def test_a_valid_data_uri_media_type_is_kept(resolver):
    assert resolver.resolve("data:Image/SVG+XML;charset=utf-8,<svg/>").content_type == "image/svg+xml"


@pytest.mark.parametrize(
    ("path", "header", "expected"),
    [
        ("/photo.jpg", "image/png\x01", "image/jpeg"),  # a bad header: the file name decides
        ("/blob", "image/png\x01", OCTET_STREAM),
        ("/blob", LONG, OCTET_STREAM),
        ("/blob", "Image/PNG; charset=binary", "image/png"),
    ],
)
def test_an_http_content_type_is_checked_before_it_is_stored(file_server, resolver, path, header, expected):
    file_server.add(path, body=b"body", headers={"Content-Type": header})
    local = resolver.resolve(file_server.url(path))
    assert local.content_type == expected
    assert meta_of(resolver.cache, resolver.parse(file_server.url(path)).identity)["content_type"] == expected


class _Store:
    """A cloud store whose object metadata carries ``content_type`` as the service gave it."""

    def __init__(self, content_type: str) -> None:
        self.content_type = content_type

    def head(self, ref):  # type: ignore[no-untyped-def]
        return Announced(etag='"v1"', size=4, content_type=self.content_type)

    def chunks(self, ref, info) -> Iterator[bytes]:  # type: ignore[no-untyped-def]
        yield b"body"


@pytest.mark.parametrize("value", ["text/html\r\nX-Injected: 1", LONG])
def test_a_cloud_content_type_is_checked_before_it_is_stored(resolver, value):
    local = fetch_object(_Store(value), parse_ref("s3://bucket/k.bin"), resolver)
    assert local.content_type == OCTET_STREAM
    assert meta_of(resolver.cache, "s3://bucket/k.bin")["content_type"] == OCTET_STREAM


def test_an_s3_object_content_type_is_checked(s3_settings):
    import boto3

    bucket = f"bucket-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_settings.s3_endpoint_url)
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="k.bin", Body=b"body", ContentType=LONG)
    client.put_object(Bucket=bucket, Key="p.bin", Body=b"body", ContentType="Image/PNG; x=y")
    resolver = Resolver(s3_settings)
    assert resolver.resolve(f"s3://{bucket}/k.bin").content_type == OCTET_STREAM
    assert resolver.resolve(f"s3://{bucket}/p.bin").content_type == "image/png"


@pytest.mark.parametrize("stored", ["text/html\r\nX-Injected: 1", LONG, 7, {"a": 1}, "Text/Plain; charset=x"])
def test_metadata_written_by_anything_else_is_checked_when_read(cache_dir, stored):
    cache = Cache(cache_dir)
    entry = cache.put("https://h/x", "x", [b"x"], source="https://h/x", content_type="text/plain")
    meta_path = entry.path.parent / ".meta.json"
    meta = json.loads(meta_path.read_text("utf-8"))
    meta["content_type"] = stored
    meta_path.write_text(json.dumps(meta), "utf-8")
    found = Cache(cache_dir).get("https://h/x")  # a fresh process: nothing remembered
    assert found is not None
    expected = "text/plain" if stored == "Text/Plain; charset=x" else OCTET_STREAM
    assert found.content_type == expected
    assert Cache(cache_dir).scan().entries[0].content_type == expected
