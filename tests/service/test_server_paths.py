"""What a client learns of the server's folders from an error: nothing. The library's messages say
which folder a path left or which cache folder is full (the log keeps them); over HTTP each folder
is named by its setting instead."""

from __future__ import annotations

import errno
import json
import logging
from pathlib import Path

import pytest

from ml_data import Settings
from ml_data.cache.disk import write_error
from ml_data.errors import NotFound, OutputError, UnsafePath
from ml_data.service import ServiceSettings, create_app
from ml_data.service.errors import ServerPaths, public_message
from tests.guarantees.test_containment import HOSTILE_LOCAL_FILES
from tests.support.jobs import wait_for_job

TOKEN = "paths-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SECRET = b"top secret, outside the document root"


@pytest.fixture
def server(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A service whose every folder sits under a telling name, with links leading out of them."""
    place = tmp_path / "srv-secret-place"
    root, uploads, extra, outside = place / "data", place / "upload", place / "extra", place / "outside"
    for folder in (root / "photos", uploads / "3", extra, outside):
        folder.mkdir(parents=True)
    (outside / "secret.txt").write_bytes(SECRET)
    (root / "photos" / "x.jpg").write_bytes(b"inside")
    (root / "link_out").symlink_to(outside, target_is_directory=True)
    (root / "photos" / "evil.jpg").symlink_to(outside / "secret.txt")
    (uploads / "3" / "escape.jpg").symlink_to(outside / "secret.txt")
    (extra / "escape.txt").symlink_to(outside / "secret.txt")
    settings = Settings(
        local_files_root=root, upload_dir=uploads, extra_local_roots=(extra,), cache_dir=place / "cache", retries=0
    )
    app = create_app(settings, ServiceSettings(token=TOKEN))
    return app.test_client(), place, extra


def _hostile(extra: Path) -> list[str]:
    return [
        *(f"/data/local-files/?d={path}" for path in HOSTILE_LOCAL_FILES),
        "/data/upload/3/escape.jpg",
        "/data/upload/../../etc/passwd",
        "/data/upload/3/..%2F..%2Foutside%2Fsecret.txt",
        "/data/local-files/?d=photos/missing.jpg",
        "/data/local-files/?d=link_out/missing.jpg",
        "/etc/passwd",
        "file:///etc/passwd",
        f"{extra}/escape.txt",  # the client wrote this path itself: it may be echoed, nothing more
        f"file://{extra}/escape.txt",
    ]


def _without_asked(body: str, url: str) -> str:
    """The answer without the URL the client sent (echoed as it was asked, JSON-escaped or not)."""
    return body.replace(json.dumps(url)[1:-1], "").replace(url, "")


def test_no_error_of_a_hostile_path_names_a_server_folder(server, caplog):
    """Regression: a link leading out of the Local Files root was answered 400 "file path
    resolves outside /srv/.../data (through a symlink)", naming the server's folder."""
    client, place, extra = server
    caplog.set_level(logging.DEBUG)
    statuses = set()
    for url in _hostile(extra):
        answer = client.get("/v1/resources", query_string={"url": url}, headers=AUTH)
        statuses.add(answer.status_code)
        assert answer.status_code in (400, 403, 404), url
        assert SECRET not in answer.data
        assert str(place) not in _without_asked(answer.get_data(as_text=True), url), (url, answer.get_json())
        assert "srv-secret-place" not in _without_asked(answer.get_data(as_text=True), url), url
    assert statuses >= {400, 404}
    assert any(str(place) in record.getMessage() for record in caplog.records)  # the log says where
    # The same URLs in a prefetch job: every error recorded, none naming a folder.
    started = client.post("/v1/prefetch", json={"urls": _hostile(extra)}, headers=AUTH)
    job = wait_for_job(client, started.get_json()["id"], AUTH, timeout=60)
    assert job["failed"] == len(set(_hostile(extra)))
    for error in job["errors"]:
        assert "srv-secret-place" not in _without_asked(error["message"], error["url"]), error


def test_the_symlink_refusal_still_says_which_folder(server):
    client, _place, _extra = server
    answer = client.get("/v1/resources", query_string={"url": "/data/local-files/?d=photos/evil.jpg"}, headers=AUTH)
    assert answer.status_code == 400 and answer.get_json()["error"] == "unsafe_path"
    assert answer.get_json()["message"] == (
        "file path resolves outside $LOCAL_FILES_DOCUMENT_ROOT (through a symlink) [url /data/local-files/?d=photos/evil.jpg]"
    )


def test_each_folder_is_named_by_its_setting(tmp_path):
    """Every spelling of a folder (as configured, real path) becomes its variable; a longer path
    inside another is named by its own; a path that only begins like a folder is left alone."""
    real = tmp_path / "real-root"
    real.mkdir()
    (tmp_path / "alias").symlink_to(real, target_is_directory=True)
    settings = Settings(local_files_root=tmp_path / "alias", cache_dir=tmp_path / "cache")
    paths = ServerPaths.of(settings, datasets_dir=tmp_path / "cache" / "datasets")
    assert paths.hide(f"outside {real} and {tmp_path}/alias/x") == (
        "outside $LOCAL_FILES_DOCUMENT_ROOT and $LOCAL_FILES_DOCUMENT_ROOT/x"
    )
    assert paths.hide(f"cannot write {tmp_path}/cache/datasets/p-1/a.txt") == (
        "cannot write $ML_DATA_SERVICE_DATASETS_DIR/p-1/a.txt"
    )
    assert paths.hide(f"{real}-other/a.txt") == f"{real}-other/a.txt"
    full = write_error(settings.cache_dir, OSError(errno.ENOSPC, "full"), url="https://h/x.jpg")
    assert public_message(full, paths) == (
        "the cache folder $ML_DATA_CACHE_DIR is full (no space left on the device): free space, "
        "or set ML_DATA_CACHE_MAX_SIZE [url https://h/x.jpg]"
    )
    # The URL the client asked for is echoed as it is.
    asked = UnsafePath(f"file path resolves outside {real} (through a symlink)", url=f"{real}/a.jpg", task_id=4)
    assert public_message(asked, paths) == (
        f"file path resolves outside $LOCAL_FILES_DOCUMENT_ROOT (through a symlink) [task 4, url {real}/a.jpg]"
    )
    assert public_message(NotFound(f"no file 'a' under {real}", url="/x"), paths) == "no such file [url /x]"
    assert public_message(OutputError(f"cannot write {tmp_path}/elsewhere"), paths).startswith("cannot write /")


@pytest.mark.label_studio
def test_a_failed_dataset_job_names_no_folder(seeded, tmp_path):
    """A job that fails outright (here: its datasets folder cannot be made) reports the error
    without the folder."""
    blocker = tmp_path / "srv-secret-place"
    blocker.write_bytes(b"a file where the datasets folder should be")
    app = create_app(
        seeded.settings(tmp_path),
        ServiceSettings(token=TOKEN, allow=(seeded.files.origin,), datasets_dir=blocker / "datasets"),
    )
    client = app.test_client()
    started = client.post(f"/v1/projects/{seeded.project}/datasets", json={"format": "json"}, headers=AUTH)
    assert started.status_code == 202, started.get_json()
    job = wait_for_job(client, started.get_json()["id"], AUTH, timeout=120)
    assert job["state"] == "failed" and job["errors"], job
    assert "srv-secret-place" not in json.dumps(job), job
    assert "$ML_DATA_SERVICE_DATASETS_DIR" in job["errors"][-1]["message"], job
