"""Resolving remote URLs into the cache, against loopback servers that misbehave on demand."""

from __future__ import annotations

import base64
import hashlib

import pytest

from ml_data import (
    AuthenticationFailed,
    IncompleteDownload,
    LabelStudioNotConfigured,
    MissingTaskId,
    NotFound,
    RemoteNotFound,
    Resolver,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from tests.support.fake_label_studio import LEGACY_TOKEN, FakeLabelStudio

BODY = bytes(range(256)) * 4096  # 1 MiB, several chunks


def tmp_leftovers(resolver: Resolver) -> list:
    tmp = resolver.cache.root / "tmp"
    return [p for p in tmp.iterdir() if p.suffix == ".part"] if tmp.exists() else []


def b64(uri: str) -> str:
    return base64.urlsafe_b64encode(uri.encode()).decode()


def test_http_download_is_cached_and_verified(file_server, resolver):
    file_server.add("/img/cat.jpg", body=BODY, headers={"Content-Type": "image/jpeg", "ETag": '"v1"'})
    local = resolver.resolve(file_server.url("/img/cat.jpg"))
    assert local.path.read_bytes() == BODY
    assert local.path.name == "cat.jpg"
    assert local.cached and local.kind == "http" and local.content_type == "image/jpeg"
    assert local.sha256 == hashlib.sha256(BODY).hexdigest()
    assert resolver.cache.get(file_server.url("/img/cat.jpg").lower()).etag == '"v1"'


def test_repeated_resolves_cause_one_get(file_server, resolver):
    file_server.add("/a.png", body=b"png")
    paths = {resolver.resolve(file_server.url("/a.png")).path for _ in range(5)}
    assert len(paths) == 1
    assert file_server.gets("/a.png") == 1


def test_truncated_body_leaves_no_entry(file_server, resolver):
    file_server.add("/cut.bin", body=BODY, truncate_at=1000)
    with pytest.raises(IncompleteDownload) as info:
        resolver.resolve(file_server.url("/cut.bin"), task_id=9)
    assert "task 9" in str(info.value)
    assert resolver.cache.get(file_server.url("/cut.bin")) is None
    assert tmp_leftovers(resolver) == []
    assert file_server.gets("/cut.bin") == 1 + resolver.settings.retries  # retried, then gave up


def test_reset_connection_leaves_no_entry(file_server, resolver):
    file_server.add("/reset.bin", body=BODY, reset_at=70000)
    with pytest.raises((IncompleteDownload, UpstreamUnavailable)):
        resolver.resolve(file_server.url("/reset.bin"))
    assert resolver.cache.get(file_server.url("/reset.bin")) is None
    assert tmp_leftovers(resolver) == []


def test_a_broken_transfer_is_retried_and_then_succeeds(file_server, resolver):
    file_server.add("/once.bin", body=BODY, truncate_at=500, fault_times=1)
    assert resolver.resolve(file_server.url("/once.bin")).path.read_bytes() == BODY
    assert file_server.gets("/once.bin") == 2


def test_a_reset_transfer_is_retried_and_then_succeeds(file_server, resolver):
    file_server.add("/reset-once.bin", body=BODY, reset_at=70000, fault_times=2)
    assert resolver.resolve(file_server.url("/reset-once.bin")).path.read_bytes() == BODY
    assert file_server.gets("/reset-once.bin") == 3


def test_after_a_failure_the_next_resolve_downloads_again(file_server, resolver):
    route = file_server.add("/flaky.bin", body=BODY, truncate_at=10)
    no_retry = Resolver(resolver.settings.with_changes(retries=0))
    with pytest.raises(IncompleteDownload):
        no_retry.resolve(file_server.url("/flaky.bin"))
    route.truncate_at = None
    assert no_retry.resolve(file_server.url("/flaky.bin")).path.read_bytes() == BODY
    assert file_server.gets("/flaky.bin") == 2


def test_server_errors_are_retried_by_resolve(file_server, resolver):
    file_server.add("/5xx.jpg", body=b"fine", fail_times=2, fail_status=500)
    assert resolver.resolve(file_server.url("/5xx.jpg")).path.read_bytes() == b"fine"
    assert file_server.gets("/5xx.jpg") == 3


def test_stall_times_out_and_caches_nothing(file_server, resolver):
    file_server.add("/stall.jpg", body=b"late", stall_before=3.0)
    fast = Resolver(resolver.settings.with_changes(read_timeout=0.5))
    with pytest.raises(UpstreamTimeout):
        fast.resolve(file_server.url("/stall.jpg"))
    assert fast.cache.get(file_server.url("/stall.jpg")) is None


def test_404_is_not_found(file_server, resolver):
    with pytest.raises(RemoteNotFound) as info:
        resolver.resolve(file_server.url("/missing.jpg"))
    assert isinstance(info.value, FileNotFoundError)


def test_url_without_a_file_name_is_named_after_its_type(file_server, resolver):
    file_server.add("/", body=b"{}", headers={"Content-Type": "application/json"})
    assert resolver.resolve(file_server.origin + "/").path.name == "file.json"


def test_presigned_url_with_a_new_signature_is_a_cache_hit(file_server, settings):
    resolver = Resolver(settings.with_changes(s3_endpoint_url=file_server.origin))
    key_path = "/bucket/photos/x.jpg"
    file_server.add(key_path, body=b"object")
    credential = "X-Amz-Credential=AK%2F20260101%2Fus-east-1%2Fs3%2Faws4_request"
    first = resolver.resolve(file_server.url(f"{key_path}?{credential}&X-Amz-Signature=aaa&X-Amz-Date=1"))
    second = resolver.resolve(file_server.url(f"{key_path}?{credential}&X-Amz-Signature=bbb&X-Amz-Date=2"))
    assert first.path == second.path and first.kind == "s3"
    assert file_server.gets(key_path) == 1
    assert resolver.cache.get("s3://bucket/photos/x.jpg") is not None


def test_data_uri_becomes_a_cached_file(resolver):
    local = resolver.resolve("data:text/plain;base64,aGVsbG8gd29ybGQ=")
    assert local.path.read_bytes() == b"hello world"
    assert local.path.suffix == ".txt" and local.content_type == "text/plain"


# -- Label Studio: uploads, local files, resolve links ---------------------------------------------


@pytest.fixture
def ls(file_server) -> FakeLabelStudio:
    return FakeLabelStudio(file_server)


@pytest.fixture
def ls_resolver(ls, settings) -> Resolver:
    return Resolver(settings.with_changes(label_studio_url=ls.url, api_key=LEGACY_TOKEN))


def test_upload_is_downloaded_from_label_studio_with_the_token(ls, ls_resolver, file_server):
    ls.serve_file("/data/upload/3/abc-cat.jpg", b"cat")
    local = ls_resolver.resolve("/data/upload/3/abc-cat.jpg")
    assert local.path.read_bytes() == b"cat" and local.kind == "upload"
    assert ls_resolver.resolve(f"{ls.url}/data/upload/3/abc-cat.jpg").path == local.path
    assert ls_resolver.resolve("upload/3/abc-cat.jpg").path == local.path
    assert file_server.gets("/data/upload/3/abc-cat.jpg") == 1


def test_upload_falls_back_to_the_storage_proxy(ls, ls_resolver, file_server):
    ls.serve_file("/storage-data/uploaded/", b"from-proxy")
    local = ls_resolver.resolve("/data/upload/3/x.jpg")
    assert local.path.read_bytes() == b"from-proxy"
    proxied = [r.path for r in file_server.requests if r.path.startswith("/storage-data/")]
    assert proxied == ["/storage-data/uploaded/?filepath=upload/3/x.jpg"]


def test_label_studio_path_prefix_is_respected(ls, settings, file_server):
    ls.serve_file("/label-studio/data/upload/3/x.jpg", b"prefixed")
    resolver = Resolver(settings.with_changes(label_studio_url=ls.url + "/label-studio", api_key=LEGACY_TOKEN))
    assert resolver.resolve("/label-studio/data/upload/3/x.jpg").path.read_bytes() == b"prefixed"
    assert resolver.resolve("/data/upload/3/x.jpg").path.read_bytes() == b"prefixed"


def test_local_files_are_downloaded_when_the_root_is_not_mounted(ls, ls_resolver):
    ls.serve_file("/data/local-files/", b"served-by-ls")
    local = ls_resolver.resolve("/data/local-files/?d=photos/x.jpg")
    assert local.path.read_bytes() == b"served-by-ls" and local.cached


def test_label_studio_urls_need_url_and_token(settings):
    with pytest.raises(LabelStudioNotConfigured, match="LABEL_STUDIO_URL") as info:
        Resolver(settings).resolve("/data/upload/3/x.jpg")
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(LabelStudioNotConfigured, match="LABEL_STUDIO_API_KEY"):
        Resolver(settings.with_changes(label_studio_url="http://127.0.0.1:9")).resolve("/data/upload/3/x.jpg")


def test_wrong_token_is_a_clear_error(ls, settings):
    ls.serve_file("/data/upload/3/x.jpg", b"x")
    resolver = Resolver(settings.with_changes(label_studio_url=ls.url, api_key="0" * 40))
    with pytest.raises(AuthenticationFailed, match="legacy token"):
        resolver.resolve("/data/upload/3/x.jpg")


def test_personal_access_token_works_for_uploads(ls, settings):
    ls.serve_file("/data/upload/3/x.jpg", b"pat")
    resolver = Resolver(settings.with_changes(label_studio_url=ls.url, api_key=ls.personal_access_token))
    assert resolver.resolve("/data/upload/3/x.jpg").path.read_bytes() == b"pat"
    assert ls.refreshes == 1


def test_resolve_link_follows_redirect_without_the_token(ls, ls_resolver, file_server, other_server):
    other_server.add("/bucket/k.jpg", body=b"cloud-object")
    file_server.add(
        "/tasks/7/resolve/", redirect_to=other_server.url("/bucket/k.jpg?X-Amz-Signature=s"), redirect_status=303
    )
    local = ls_resolver.resolve(f"/tasks/7/resolve/?fileuri={b64('s3://bucket/k.jpg')}")
    assert local.path.read_bytes() == b"cloud-object" and local.kind == "s3"
    assert other_server.seen_authorization() == []
    assert file_server.seen_authorization() == [f"Token {LEGACY_TOKEN}"]
    assert ls_resolver.cache.get("s3://bucket/k.jpg").path == local.path


def test_raw_cloud_uri_with_task_id_goes_through_label_studio(ls, ls_resolver, file_server):
    ls.serve_file("/tasks/12/resolve/", b"via-ls")
    local = ls_resolver.resolve("s3://bucket/dir/a b.jpg", task_id=12)
    assert local.path.read_bytes() == b"via-ls"
    (request,) = [r for r in file_server.requests if r.path.startswith("/tasks/")]
    assert request.path == f"/tasks/12/resolve/?fileuri={b64('s3://bucket/dir/a b.jpg')}"
    # The same object through its resolve link is now a hit.
    again = ls_resolver.resolve(f"/tasks/12/resolve/?fileuri={b64('s3://bucket/dir/a b.jpg')}")
    assert again.path == local.path
    assert file_server.gets("/tasks/12/resolve/") == 1


def test_raw_cloud_uri_without_task_id_says_both_options(ls_resolver):
    with pytest.raises(MissingTaskId, match=r"ml-data\[gcs\].*task id"):
        ls_resolver.resolve("gs://bucket/x.jpg")


def test_without_downloads_only_local_or_cached_files_are_returned(ls, ls_resolver, file_server):
    ls.serve_file("/data/upload/3/x.jpg", b"x")
    offline = ls_resolver.without_downloads()
    with pytest.raises(NotFound, match="downloads are off"):
        offline.resolve("/data/upload/3/x.jpg")
    assert file_server.gets("/data/upload/3/x.jpg") == 0
    cached = ls_resolver.resolve("/data/upload/3/x.jpg")
    assert offline.resolve("/data/upload/3/x.jpg").path == cached.path
