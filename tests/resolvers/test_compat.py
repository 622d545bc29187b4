"""get_local_path is a drop-in for label_studio_tools' get_local_path: same signature, same
environment fallbacks, same exception types (and the reference itself is the oracle)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import requests

import ml_data
from tests.support.fake_label_studio import LEGACY_TOKEN, FakeLabelStudio

reference_io = pytest.importorskip("label_studio_tools.core.utils.io")


def test_signature_equals_the_reference():
    ours = inspect.signature(ml_data.get_local_path)
    theirs = inspect.signature(reference_io.get_local_path)
    assert [(p.name, p.kind, p.default) for p in ours.parameters.values()] == [
        (p.name, p.kind, p.default) for p in theirs.parameters.values()
    ]


def test_same_bytes_as_the_reference_for_an_http_url(file_server, tmp_path):
    file_server.add("/photo.jpg", body=b"\xff\xd8jpeg-bytes")
    url = file_server.url("/photo.jpg")
    (tmp_path / "theirs").mkdir()  # the reference does not create its cache folder
    ours = ml_data.get_local_path(url, cache_dir=str(tmp_path / "ours"))
    theirs = reference_io.get_local_path(url, cache_dir=str(tmp_path / "theirs"))
    assert isinstance(ours, str)
    assert Path(ours).read_bytes() == Path(theirs).read_bytes() == b"\xff\xd8jpeg-bytes"
    assert Path(ours).name == "photo.jpg"
    assert Path(ours).is_relative_to(tmp_path / "ours")


@pytest.mark.parametrize(
    ("url_var", "token_var"),
    [("LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY"), ("LABEL_STUDIO_HOST", "LABEL_STUDIO_ACCESS_TOKEN")],
)
def test_environment_fallbacks(file_server, monkeypatch, tmp_path, url_var, token_var):
    ls = FakeLabelStudio(file_server)
    ls.serve_file("/data/upload/3/x.jpg", b"uploaded")
    monkeypatch.setenv(url_var, ls.url)
    monkeypatch.setenv(token_var, LEGACY_TOKEN)
    path = ml_data.get_local_path("/data/upload/3/x.jpg", cache_dir=str(tmp_path))
    assert Path(path).read_bytes() == b"uploaded"
    assert file_server.seen_authorization() == [f"Token {LEGACY_TOKEN}"]


def test_arguments_win_over_the_environment(file_server, monkeypatch, tmp_path):
    ls = FakeLabelStudio(file_server)
    ls.serve_file("/data/upload/3/x.jpg", b"uploaded")
    monkeypatch.setenv("LABEL_STUDIO_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "wrong")
    path = ml_data.get_local_path(
        "/data/upload/3/x.jpg", cache_dir=str(tmp_path), hostname=ls.url, access_token=ls.personal_access_token
    )
    assert Path(path).read_bytes() == b"uploaded"


def test_personal_access_token_works_where_the_reference_failed(file_server, tmp_path):
    ls = FakeLabelStudio(file_server)
    ls.serve_file("/data/upload/3/x.jpg", b"uploaded")
    path = ml_data.get_local_path(
        "/data/upload/3/x.jpg", cache_dir=str(tmp_path), hostname=ls.url, access_token=ls.personal_access_token
    )
    assert Path(path).read_bytes() == b"uploaded"
    (tmp_path / "ref").mkdir()
    with pytest.raises(requests.HTTPError):  # the reference sends the refresh token as a legacy token
        reference_io.get_local_path(
            "/data/upload/3/x.jpg",
            cache_dir=str(tmp_path / "ref"),
            hostname=ls.url,
            access_token=ls.personal_access_token,
        )


def test_same_exception_types_as_the_reference(file_server, tmp_path):
    cache = str(tmp_path)
    with pytest.raises(FileNotFoundError):  # no hostname
        ml_data.get_local_path("/data/upload/3/x.jpg", cache_dir=cache)
    with pytest.raises(FileNotFoundError):  # no token
        ml_data.get_local_path("/data/upload/3/x.jpg", cache_dir=cache, hostname=file_server.origin)
    with pytest.raises(ValueError):  # hostname without scheme
        ml_data.get_local_path("/data/upload/3/x.jpg", cache_dir=cache, hostname="ls.example:8080")
    with pytest.raises(Exception, match="task id"):  # cloud URI without task id
        ml_data.get_local_path("s3://bucket/x.jpg", cache_dir=cache, hostname=file_server.origin, access_token="t")
    with pytest.raises(requests.HTTPError) as info:
        ml_data.get_local_path(file_server.url("/missing.jpg"), cache_dir=cache)
    assert info.value.status_code == 404
    with pytest.raises(requests.HTTPError):  # the reference raises the same type for the same URL
        reference_io.get_local_path(file_server.url("/missing.jpg"), cache_dir=str(tmp_path / "ref"))


def test_download_resources_false_never_returns_a_missing_path(file_server, tmp_path):
    file_server.add("/late.jpg", body=b"late")
    url = file_server.url("/late.jpg")
    with pytest.raises(FileNotFoundError):
        ml_data.get_local_path(url, cache_dir=str(tmp_path), download_resources=False)
    assert file_server.gets("/late.jpg") == 0
    # The reference returns a path that does not exist.
    assert not Path(reference_io.get_local_path(url, cache_dir=str(tmp_path / "r"), download_resources=False)).exists()
    downloaded = ml_data.get_local_path(url, cache_dir=str(tmp_path))
    assert ml_data.get_local_path(url, cache_dir=str(tmp_path), download_resources=False) == downloaded


def test_uploads_are_read_from_image_dir_or_project_dir(tmp_path):
    media = tmp_path / "media" / "upload" / "3"
    media.mkdir(parents=True)
    (media / "x.jpg").write_bytes(b"mounted")
    by_image_dir = ml_data.get_local_path("/data/upload/3/x.jpg", image_dir=str(tmp_path / "media" / "upload"))
    by_project_dir = ml_data.get_local_path("/data/upload/3/x.jpg", project_dir=str(tmp_path / "media"))
    assert by_image_dir == by_project_dir == str(media / "x.jpg")


def test_local_label_studio_data_dir_is_used_like_the_reference(monkeypatch, tmp_path):
    monkeypatch.setenv("LABEL_STUDIO_BASE_DATA_DIR", str(tmp_path / "ls-data"))
    upload = tmp_path / "ls-data" / "media" / "upload" / "5"
    upload.mkdir(parents=True)
    (upload / "y.png").write_bytes(b"png")
    assert ml_data.get_local_path("/data/upload/5/y.png") == str(upload / "y.png")


def test_local_files_from_the_document_root(monkeypatch, tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "z.jpg").write_bytes(b"z")
    monkeypatch.setenv("LOCAL_FILES_DOCUMENT_ROOT", str(tmp_path))
    assert ml_data.get_local_path("/data/local-files/?d=photos/z.jpg") == str(tmp_path / "photos" / "z.jpg")
    with pytest.raises(ValueError):
        ml_data.get_local_path("/data/local-files/?d=../../etc/passwd")


def test_cloud_uri_with_task_id_uses_label_studio(file_server, tmp_path):
    ls = FakeLabelStudio(file_server)
    ls.serve_file("/tasks/4/resolve/", b"object")
    path = ml_data.get_local_path(
        "gs://bucket/k.jpg", cache_dir=str(tmp_path), hostname=ls.url, access_token=LEGACY_TOKEN, task_id=4
    )
    assert Path(path).read_bytes() == b"object" and Path(path).name == "k.jpg"
