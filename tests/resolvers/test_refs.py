"""The URL parser: every form a task can hold, as a table; pure, no IO."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_data import UnsafePath, UnsupportedURL
from ml_data.resolvers.parse import decode_fileuri, encode_fileuri, parse_ref
from ml_data.resolvers.refs import (
    CloudRef,
    DataRef,
    HttpRef,
    LocalFilesRef,
    LocalPathRef,
    UploadRef,
    canonical_http_url,
)

LS = "http://ls.example:8080"
LS_PREFIXED = "http://ls.example:8080/label-studio"


def b64(uri: str) -> str:
    return base64.urlsafe_b64encode(uri.encode()).decode()


# (url, label studio url, type, kind, identity, filename)
CASES = [
    # uploads, with and without /data, with a path prefix, absolute on the LS host, storage proxy
    ("/data/upload/3/x.jpg", None, UploadRef, "upload", "label-studio-upload:/upload/3/x.jpg", "x.jpg"),
    ("/data/upload/3/x.jpg", LS, UploadRef, "upload", f"label-studio-upload:{LS}/upload/3/x.jpg", "x.jpg"),
    ("upload/3/x.jpg", LS, UploadRef, "upload", f"label-studio-upload:{LS}/upload/3/x.jpg", "x.jpg"),
    ("/upload/3/x.jpg", LS, UploadRef, "upload", f"label-studio-upload:{LS}/upload/3/x.jpg", "x.jpg"),
    (
        "/label-studio/data/upload/3/a%20b.jpg",
        LS_PREFIXED,
        UploadRef,
        "upload",
        f"label-studio-upload:{LS}/upload/3/a b.jpg",
        "a b.jpg",
    ),
    (f"{LS}/data/upload/3/x.jpg", LS, UploadRef, "upload", f"label-studio-upload:{LS}/upload/3/x.jpg", "x.jpg"),
    (
        "http://LS.example:8080/data/upload/3/x.jpg",
        LS,
        UploadRef,
        "upload",
        f"label-studio-upload:{LS}/upload/3/x.jpg",
        "x.jpg",
    ),
    (
        "/storage-data/uploaded/?filepath=upload/3/x.jpg",
        LS,
        UploadRef,
        "upload",
        f"label-studio-upload:{LS}/upload/3/x.jpg",
        "x.jpg",
    ),
    # local files: plain, URL-encoded value, without the trailing slash, fully encoded, absolute
    (
        "/data/local-files/?d=photos/x.jpg",
        LS,
        LocalFilesRef,
        "local_files",
        f"label-studio-local-files:{LS}/photos/x.jpg",
        "x.jpg",
    ),
    (
        "/data/local-files/?d=photos%2Fcat%20one.jpg",
        None,
        LocalFilesRef,
        "local_files",
        "label-studio-local-files:/photos/cat one.jpg",
        "cat one.jpg",
    ),
    ("/data/local-files?d=a/b.png", None, LocalFilesRef, "local_files", "label-studio-local-files:/a/b.png", "b.png"),
    (
        "/data/local-files/%3Fd%3Dphotos%2Fx.jpg",
        None,
        LocalFilesRef,
        "local_files",
        "label-studio-local-files:/photos/x.jpg",
        "x.jpg",
    ),
    (
        "/data/local-files/?d=%E5%9B%BE%E7%89%87/%E7%8C%AB.jpg",
        None,
        LocalFilesRef,
        "local_files",
        "label-studio-local-files:/图片/猫.jpg",
        "猫.jpg",
    ),
    (
        f"{LS}/data/local-files/?d=x.jpg",
        LS,
        LocalFilesRef,
        "local_files",
        f"label-studio-local-files:{LS}/x.jpg",
        "x.jpg",
    ),
    # plain paths and file://
    ("/mnt/images/x.jpg", None, LocalPathRef, "local_path", "file:/mnt/images/x.jpg", "x.jpg"),
    ("images/x.jpg", None, LocalPathRef, "local_path", "file:images/x.jpg", "x.jpg"),
    ("file:///mnt/images/a%20b.jpg", None, LocalPathRef, "local_path", "file:/mnt/images/a b.jpg", "a b.jpg"),
    ("file://localhost/mnt/x.jpg", None, LocalPathRef, "local_path", "file:/mnt/x.jpg", "x.jpg"),
    # external links: canonical identity, signature-free
    ("https://Example.com:443/img/x.jpg#frag", LS, HttpRef, "http", "https://example.com/img/x.jpg", "x.jpg"),
    ("http://example.com/x.jpg?size=large", None, HttpRef, "http", "http://example.com/x.jpg?size=large", "x.jpg"),
    (
        "https://cdn.example.com/x.jpg?Expires=1&Signature=abc&Key-Pair-Id=K",
        None,
        HttpRef,
        "http",
        "https://cdn.example.com/x.jpg",
        "x.jpg",
    ),
    (
        "http://other.example:8080/data/upload/3/x.jpg",
        LS,
        HttpRef,
        "http",
        "http://other.example:8080/data/upload/3/x.jpg",
        "x.jpg",
    ),
    # data: URIs
    ("data:image/png;base64,iVBORw0KGgo=", None, DataRef, "data_uri", None, "data.png"),
    ("data:text/plain,hello%20world", None, DataRef, "data_uri", None, "data.txt"),
    # raw cloud URIs: keys verbatim (spaces, '+', '%', '#', unicode)
    ("s3://bucket/dir/x.jpg", None, CloudRef, "s3", "s3://bucket/dir/x.jpg", "x.jpg"),
    ("s3://bucket/a b+c%20d#e.jpg", None, CloudRef, "s3", "s3://bucket/a b+c%20d#e.jpg", "a b+c%20d#e.jpg"),
    ("gs://bucket/图片.png", None, CloudRef, "gcs", "gs://bucket/图片.png", "图片.png"),
    ("azure-blob://container/dir/x.wav", None, CloudRef, "azure", "azure-blob://container/dir/x.wav", "x.wav"),
    # presigned URLs map to the cloud identity
    (
        "https://bucket.s3.amazonaws.com/dir/x%20y.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=ff",
        None,
        CloudRef,
        "s3",
        "s3://bucket/dir/x y.jpg",
        "x y.jpg",
    ),
    (
        "https://bucket.s3.eu-west-1.amazonaws.com/k.jpg?X-Amz-Signature=1",
        None,
        CloudRef,
        "s3",
        "s3://bucket/k.jpg",
        "k.jpg",
    ),
    (
        "https://s3.eu-west-1.amazonaws.com/bucket/k.jpg?Signature=1&AWSAccessKeyId=A&Expires=2",
        None,
        CloudRef,
        "s3",
        "s3://bucket/k.jpg",
        "k.jpg",
    ),
    (
        "https://storage.googleapis.com/bucket/d/k.jpg?X-Goog-Signature=1",
        None,
        CloudRef,
        "gcs",
        "gs://bucket/d/k.jpg",
        "k.jpg",
    ),
    ("https://bucket.storage.googleapis.com/k.jpg", None, CloudRef, "gcs", "gs://bucket/k.jpg", "k.jpg"),
    (
        "https://acct.blob.core.windows.net/container/d/k.jpg?sv=2021&sig=abc",
        None,
        CloudRef,
        "azure",
        "azure-blob://container/d/k.jpg",
        "k.jpg",
    ),
    # Label Studio resolve / presign links: identity is the decoded cloud URI
    (
        f"/tasks/7/resolve/?fileuri={b64('s3://bucket/key with space.jpg')}",
        LS,
        CloudRef,
        "s3",
        "s3://bucket/key with space.jpg",
        "key with space.jpg",
    ),
    (f"/tasks/7/presign/?fileuri={b64('gs://b/k.png')}", LS, CloudRef, "gcs", "gs://b/k.png", "k.png"),
    (
        f"/projects/3/resolve/?fileuri={b64('azure-blob://c/k.wav')}",
        LS,
        CloudRef,
        "azure",
        "azure-blob://c/k.wav",
        "k.wav",
    ),
    ("/projects/3/presign/?fileuri=s3%3A%2F%2Fb%2Fk.jpg", LS, CloudRef, "s3", "s3://b/k.jpg", "k.jpg"),
    (f"{LS}/tasks/7/resolve/?fileuri={b64('s3://b/k.jpg')}", LS, CloudRef, "s3", "s3://b/k.jpg", "k.jpg"),
    (
        f"/label-studio/tasks/7/resolve/?fileuri={b64('s3://b/k.jpg')}",
        LS_PREFIXED,
        CloudRef,
        "s3",
        "s3://b/k.jpg",
        "k.jpg",
    ),
]


@pytest.mark.parametrize(
    ("url", "ls", "ref_type", "kind", "identity", "filename"), CASES, ids=[c[0][:60] for c in CASES]
)
def test_every_url_form_parses_to_its_kind_and_identity(url, ls, ref_type, kind, identity, filename):
    ref = parse_ref(url, label_studio_url=ls)
    assert type(ref) is ref_type
    assert ref.kind == kind
    if identity is not None:
        assert ref.identity == identity
    assert ref.filename == filename
    assert ref.raw == url


def test_a_cloud_object_has_one_identity_however_it_is_reached():
    uri = "s3://bucket/dir/photo 1.jpg"
    forms = [
        uri,
        f"/tasks/1/resolve/?fileuri={b64(uri)}",
        f"/projects/2/presign/?fileuri={b64(uri)}",
        "https://bucket.s3.amazonaws.com/dir/photo%201.jpg?X-Amz-Signature=aaa&X-Amz-Date=1",
        "https://bucket.s3.amazonaws.com/dir/photo%201.jpg?X-Amz-Signature=bbb&X-Amz-Date=2",
    ]
    assert {parse_ref(form, label_studio_url=LS).identity for form in forms} == {uri}


def test_resolve_links_keep_how_to_reach_the_object():
    ref = parse_ref(f"/tasks/42/resolve/?fileuri={b64('s3://b/k.jpg')}", label_studio_url=LS)
    assert isinstance(ref, CloudRef)
    assert (ref.via, ref.task_id, ref.project_id) == ("label-studio", 42, None)
    assert ref.ls_url.startswith("/tasks/42/resolve/")
    project = parse_ref(f"/projects/3/presign/?fileuri={b64('s3://b/k.jpg')}")
    assert (project.via, project.task_id, project.project_id) == ("label-studio", None, 3)
    presigned = parse_ref("https://b.s3.amazonaws.com/k.jpg?X-Amz-Signature=1")
    assert presigned.via == "presigned" and presigned.url.startswith("https://b.s3")


def test_upload_ref_keeps_project_and_key():
    ref = parse_ref("/data/upload/12/abcd1234-cat.jpg")
    assert (ref.project, ref.name, ref.upload_key) == ("12", "abcd1234-cat.jpg", "upload/12/abcd1234-cat.jpg")


def test_local_files_query_is_decoded_like_django_does():
    # '+' is a space and the last 'd' wins, as in Label Studio's own view.
    assert parse_ref("/data/local-files/?d=a+b.jpg").path == "a b.jpg"
    assert parse_ref("/data/local-files/?d=first.jpg&d=second.jpg").path == "second.jpg"


def test_signed_and_unsigned_presigned_urls_share_identity():
    a = canonical_http_url("https://h/x.jpg?v=1&X-Amz-Signature=a&X-Amz-Credential=c")
    b = canonical_http_url("https://h/x.jpg?X-Amz-Signature=b&v=1&X-Amz-Credential=d")
    assert a == "https://h/x.jpg?v=1"
    assert b == "https://h/x.jpg?v=1"


def test_azure_sas_parameters_are_stripped_only_with_a_signature():
    assert canonical_http_url("https://h/x?sv=1&sp=r&sig=abc&other=2") == "https://h/x?other=2"
    assert canonical_http_url("https://h/x?sp=page2") == "https://h/x?sp=page2"


def test_fileuri_round_trip_and_plain_uri():
    uri = "gs://bucket/ünïcode + space.png"
    assert decode_fileuri(encode_fileuri(uri)) == uri
    assert decode_fileuri("s3://b/k") == "s3://b/k"
    with pytest.raises(UnsupportedURL):
        decode_fileuri(b64("not a uri"))
    with pytest.raises(UnsupportedURL):
        decode_fileuri("!!!not-base64!!!")


def test_data_uri_payloads_decode():
    assert parse_ref("data:text/plain;base64,aGVsbG8=").decode() == b"hello"
    assert parse_ref("data:text/plain,hello%20world").decode() == b"hello world"
    assert parse_ref("data:;base64,aGk").decode() == b"hi"  # missing padding is tolerated
    with pytest.raises(UnsupportedURL):
        parse_ref("data:image/png;base64,@@@").decode()


def test_data_uri_identity_depends_on_content():
    a = parse_ref("data:text/plain,a").identity
    assert a == parse_ref("data:text/plain,a").identity
    assert a != parse_ref("data:text/plain,b").identity


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x.jpg",
        "gopher://x/y",
        "javascript:alert(1)",
        "mailto:someone@example.com",
        "s3://bucket-only",
        "s3:///key-without-bucket",
        "gs://bucket/",
        "",
        "   ",
        "/data/local-files/?x=1",
        "/data/local-files/?d=",
        "/tasks/7/resolve/",
        "/tasks/7/resolve/?fileuri=" + b64("just text"),
        "/storage-data/uploaded/?filepath=elsewhere/x.jpg",
        "file://remote-host/etc/passwd",
        "file:relative/path",
        "data:no-comma",
        "http:///no-host",
    ],
)
def test_unknown_or_malformed_urls_are_clear_errors(url):
    with pytest.raises(UnsupportedURL) as info:
        parse_ref(url)
    assert isinstance(info.value, ValueError)


def test_unsupported_scheme_message_names_the_scheme_and_the_forms():
    with pytest.raises(UnsupportedURL, match="'ftp'.*s3://"):
        parse_ref("ftp://example.com/x.jpg")


@pytest.mark.parametrize("url", ["/data/x\x00.jpg", "C:\\images\\x.jpg", "images\\x.jpg", "file:///x%00.jpg"])
def test_nul_bytes_and_windows_paths_are_unsafe(url):
    with pytest.raises(UnsafePath):
        parse_ref(url)


def test_non_string_is_a_clear_error():
    with pytest.raises(UnsupportedURL, match="non-empty URL string"):
        parse_ref(None)  # type: ignore[arg-type]


def test_errors_redact_signatures():
    with pytest.raises(UnsupportedURL) as info:
        parse_ref("ftp://user:hunter2@h/x?token=SECRET123")
    message = str(info.value)
    assert "hunter2" not in message and "SECRET123" not in message
    assert "ftp://user:***@h/x?token=***" in message


MINIO_URL = (
    "http://127.0.0.1:9000/bucket/k.jpg?X-Amz-Credential=AK%2F20260101%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Signature=00"
)


def test_a_presigned_url_on_the_configured_s3_endpoint_has_the_cloud_identity():
    ref = parse_ref(MINIO_URL, s3_endpoint_url="http://127.0.0.1:9000")
    assert type(ref) is CloudRef and ref.identity == "s3://bucket/k.jpg" and ref.via == "presigned"


@pytest.mark.parametrize(
    "url",
    [
        MINIO_URL,  # S3-looking parameters on a host that is not the configured endpoint
        "http://allowed.example/victim-bucket/model.jpg?X-Amz-Credential=a%2Fb%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Signature=00",
        "http://allowed.example/victim-bucket/model.jpg?AWSAccessKeyId=A&Signature=x&Expires=1",
        "http://bucket.s3.amazonaws.com.evil.example/k.jpg?X-Amz-Signature=1",
        "http://storage.googleapis.com.evil.example/b/k.jpg",
    ],
)
def test_only_a_clouds_own_endpoint_gives_a_cloud_identity(url):
    """Regression: any server could name (and fill the cache entry of) an object in any bucket."""
    ref = parse_ref(url, s3_endpoint_url="http://127.0.0.1:9001")
    assert type(ref) is HttpRef
    assert not ref.identity.startswith(("s3://", "gs://", "azure-blob://"))


@settings(max_examples=300, deadline=None)
@given(
    scheme=st.sampled_from(["http", "HTTPS", "https"]),
    host=st.sampled_from(["Example.COM", "127.0.0.1", "[::1]", "h"]),
    port=st.sampled_from(["", ":80", ":443", ":8080"]),
    path=st.text(alphabet="abc/é %20._-~", max_size=20),
    query=st.lists(
        st.tuples(
            st.sampled_from(["v", "Signature", "sig", "X-Amz-Signature", "a b", "é"]), st.text("xy=&%20", max_size=4)
        ),
        max_size=4,
    ),
)
def test_identity_is_the_url_rebuilt_from_its_parsed_parts(scheme, host, port, path, query):
    """Cache keys must not move: the identity equals urlunsplit of the parsed, cleaned parts."""
    from urllib.parse import urlencode, urlunsplit

    from ml_data.errors import MlDataError
    from ml_data.resolvers.clouds import is_signature_param
    from ml_data.resolvers.refs import canonical_http_url
    from ml_data.urls import parse_http_url

    text = f"{scheme}://{host}{port}/{path}" + (f"?{urlencode(query)}" if query else "")
    try:
        target = parse_http_url(text)
    except MlDataError:
        return
    from urllib.parse import parse_qsl

    pairs = parse_qsl(target.query, keep_blank_values=True)
    present = frozenset(name.lower() for name, _ in pairs)
    kept = [(n, v) for n, v in pairs if not is_signature_param(n, present)]
    expected_query = urlencode(kept) if len(kept) != len(pairs) else target.query
    expected = urlunsplit((target.scheme, target.netloc, target.path, expected_query, ""))
    assert canonical_http_url(target) == expected == canonical_http_url(text)
