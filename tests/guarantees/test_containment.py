"""Path containment: hostile paths from task data never read, copy or send anything outside the root."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from ml_data import NotFound, Resolver, Settings, UnsafePath
from tests.support.fake_label_studio import LEGACY_TOKEN

SECRET = b"top secret, outside the document root"


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    root = tmp_path / "data"
    (root / "photos").mkdir(parents=True)
    (root / "photos" / "x.jpg").write_bytes(b"inside")
    (root / "photos" / "cat one.jpg").write_bytes(b"spaces")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    sibling = tmp_path / "data-evil"  # shares the root's name as a prefix
    sibling.mkdir()
    (sibling / "secret.txt").write_bytes(SECRET)
    (root / "link_out").symlink_to(outside, target_is_directory=True)
    (root / "photos" / "evil.jpg").symlink_to(outside / "secret.txt")
    (root / "photos" / "fine.jpg").symlink_to(root / "photos" / "x.jpg")
    uploads = tmp_path / "media" / "upload"
    (uploads / "3").mkdir(parents=True)
    (uploads / "3" / "a.jpg").write_bytes(b"uploaded")
    (uploads / "3" / "escape.jpg").symlink_to(outside / "secret.txt")
    return {"root": root, "outside": outside, "uploads": uploads, "cache": tmp_path / "cache"}


@pytest.fixture
def local_resolver(layout) -> Resolver:
    return Resolver(
        Settings(local_files_root=layout["root"], upload_dir=layout["uploads"], cache_dir=layout["cache"], retries=0)
    )


HOSTILE_LOCAL_FILES = [
    "../outside/secret.txt",
    "../../etc/passwd",
    "%2e%2e/outside/secret.txt",
    "%2E%2E%2Foutside%2Fsecret.txt",
    "photos/../../outside/secret.txt",
    "./../outside/secret.txt",
    "photos/./../../outside/secret.txt",
    "photos/x.jpg/../../../outside/secret.txt",
    "..",
    "../data-evil/secret.txt",
    "/../outside/secret.txt",
    "photos/x.jpg%00.png",
    "%00",
    "..\\..\\etc\\passwd",
    "photos\\..\\..\\outside\\secret.txt",
    "%5c..%5c..%5coutside%5csecret.txt",
    "C:/Windows/win.ini",
    "c:%5cwindows%5cwin.ini",
    "link_out/secret.txt",
    "photos/evil.jpg",
]


@pytest.mark.parametrize("hostile", HOSTILE_LOCAL_FILES)
def test_hostile_local_files_paths_are_refused(local_resolver, hostile):
    with pytest.raises(UnsafePath) as info:
        local_resolver.resolve(f"/data/local-files/?d={hostile}")
    assert isinstance(info.value, ValueError) and isinstance(info.value, PermissionError)


@pytest.mark.parametrize(
    "encoded",
    [
        "%252e%252e/outside/secret.txt",
        "....//outside/secret.txt",
        "...%2F...%2Foutside",
        # Label Studio strips leading slashes: these name files under the document root.
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
        "//etc/passwd",
    ],
)
def test_paths_that_only_look_hostile_stay_inside(local_resolver, encoded):
    # Decoded once (as Label Studio does), these are odd names inside the root: not found there.
    with pytest.raises(NotFound):
        local_resolver.resolve(f"/data/local-files/?d={encoded}")


def test_hostile_paths_are_not_sent_to_label_studio_either(layout, file_server):
    resolver = Resolver(
        Settings(label_studio_url=file_server.origin, api_key=LEGACY_TOKEN, cache_dir=layout["cache"], retries=0)
    )
    for hostile in HOSTILE_LOCAL_FILES[:12]:
        with pytest.raises(UnsafePath):
            resolver.resolve(f"/data/local-files/?d={hostile}")
    assert file_server.requests == []


def test_safe_local_file_is_returned_in_place_never_copied(local_resolver, layout):
    local = local_resolver.resolve("/data/local-files/?d=photos/x.jpg")
    assert local.path == layout["root"] / "photos" / "x.jpg"
    assert local.cached is False and local.size == 6 and local.kind == "local_files"
    assert local.sha256 == hashlib.sha256(b"inside").hexdigest()
    assert not layout["cache"].exists()


def test_url_encoded_names_and_symlinks_inside_the_root_work(local_resolver, layout):
    assert local_resolver.resolve("/data/local-files/?d=photos%2Fcat%20one.jpg").path.read_bytes() == b"spaces"
    assert local_resolver.resolve("/data/local-files/?d=photos/fine.jpg").path == layout["root"] / "photos" / "x.jpg"


def test_missing_local_file_without_label_studio_is_not_found(local_resolver):
    with pytest.raises(NotFound, match="no file 'photos/none.jpg'"):
        local_resolver.resolve("/data/local-files/?d=photos/none.jpg", task_id=5)


def test_document_root_of_slash_is_not_a_root(layout):
    resolver = Resolver(Settings(local_files_root=Path("/"), cache_dir=layout["cache"]))
    # "/" would make every readable file a Local Files file: the URL needs Label Studio instead.
    from ml_data import LabelStudioNotConfigured

    with pytest.raises(LabelStudioNotConfigured):
        resolver.resolve("/data/local-files/?d=etc/passwd")


@pytest.mark.parametrize(
    "url",
    [
        "/data/upload/../../etc/passwd",
        "/data/upload/3/..%2F..%2F..%2Foutside%2Fsecret.txt",
        "/data/upload/3/%2e%2e/%2e%2e/outside/secret.txt",
        "/data/upload/x/a.jpg",
        "/data/upload/3/escape.jpg",
        "/data/upload/3/a.jpg%00",
        "/data/upload/3/..\\..\\secret.txt",
    ],
)
def test_hostile_upload_paths_are_refused(local_resolver, url):
    with pytest.raises(UnsafePath):
        local_resolver.resolve(url)


def test_mounted_upload_is_returned_in_place(local_resolver, layout):
    local = local_resolver.resolve("/data/upload/3/a.jpg")
    assert local.path == layout["uploads"] / "3" / "a.jpg" and local.cached is False


@pytest.mark.parametrize(
    "url",
    [
        "/etc/passwd",
        "file:///etc/passwd",
        "{outside}/secret.txt",
        "file://{outside}/secret.txt",
        "{root}/link_out/secret.txt",
        "{root}/../outside/secret.txt",
        "../outside/secret.txt",
        "photos/evil.jpg",
    ],
)
def test_plain_paths_outside_the_roots_are_refused(local_resolver, layout, url):
    with pytest.raises(UnsafePath):
        local_resolver.resolve(url.format(outside=layout["outside"], root=layout["root"]))


def test_plain_paths_inside_the_roots_are_returned_in_place(local_resolver, layout):
    inside = layout["root"] / "photos" / "x.jpg"
    assert local_resolver.resolve(str(inside)).path == inside
    assert local_resolver.resolve(f"file://{inside}").path == inside
    assert local_resolver.resolve("photos/x.jpg").path == inside
    assert local_resolver.resolve(str(layout["uploads"] / "3" / "a.jpg")).cached is False


def test_plain_paths_need_a_configured_root(tmp_path):
    target = tmp_path / "x.jpg"
    target.write_bytes(b"x")
    with pytest.raises(UnsafePath, match="ML_DATA_LOCAL_ROOTS"):
        Resolver(Settings(cache_dir=tmp_path / "c")).resolve(str(target))
    allowed = Resolver(Settings(cache_dir=tmp_path / "c", extra_local_roots=(tmp_path,)))
    assert allowed.resolve(str(target)).path == Path(os.path.realpath(target))


def test_label_studio_url_forms_with_a_leading_slash_or_a_query(local_resolver, layout):
    """Regression: ?d=/photos/x.jpg was refused as absolute, /data/upload/3/a.jpg?x=1 as unknown;
    Label Studio serves both (and so did the reference)."""
    expected = layout["root"] / "photos" / "x.jpg"
    assert local_resolver.resolve("/data/local-files/?d=/photos/x.jpg").path == expected
    assert local_resolver.resolve("/data/local-files/?d=%2Fphotos%2Fx.jpg").path == expected
    upload = local_resolver.resolve("/data/upload/3/a.jpg")
    assert local_resolver.resolve("/data/upload/3/a.jpg?x=1").path == upload.path
