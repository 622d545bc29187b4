"""``ml-data doctor`` against a real Label Studio, a server that is not Label Studio, and nothing."""

from __future__ import annotations

import json
import socket

import pytest
from click.testing import CliRunner

from ml_data import Settings
from ml_data.cli import main
from ml_data.doctor import failed, run_checks


def by_name(checks):  # type: ignore[no-untyped-def]
    return {check.name: check for check in checks}


def doctor(monkeypatch, env: dict[str, str], *args: str):  # type: ignore[no-untyped-def]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return CliRunner().invoke(main, ["doctor", *args])


@pytest.mark.label_studio
def test_a_working_setup_passes_every_check(seeded, tmp_path, monkeypatch):
    env = {
        "LABEL_STUDIO_URL": seeded.server.url,
        "LABEL_STUDIO_API_KEY": seeded.server.legacy_token,
        "ML_DATA_CACHE_DIR": str(tmp_path / "cache"),
    }
    result = doctor(monkeypatch, env, "--project", str(seeded.project))
    assert result.exit_code == 0, result.output
    lines = {line.split()[1]: line.split()[0] for line in result.output.splitlines()}
    assert lines["label-studio"] == lines["token"] == lines["sample-task"] == lines["cache"] == "ok"
    assert "Label Studio 1.23.2" in result.output and "legacy token, accepted" in result.output


@pytest.mark.label_studio
def test_a_personal_access_token_is_named_and_accepted(seeded, tmp_path):
    token = seeded.personal_access_token()
    checks = by_name(run_checks(seeded.settings(tmp_path, token), project=seeded.project))
    assert checks["token"].status == "ok" and "personal access token" in checks["token"].message
    assert checks["sample-task"].status == "ok"


@pytest.mark.label_studio
def test_a_wrong_token_fails_with_its_kind(seeded, tmp_path, monkeypatch):
    env = {
        "LABEL_STUDIO_URL": seeded.server.url,
        "LABEL_STUDIO_API_KEY": "f" * 40,
        "ML_DATA_CACHE_DIR": str(tmp_path / "cache"),
    }
    result = doctor(monkeypatch, env, "--project", str(seeded.project), "--json")
    assert result.exit_code == 1
    checks = {item["check"]: item for item in json.loads(result.output)}
    assert checks["label-studio"]["status"] == "ok"
    assert checks["token"]["status"] == "fail" and "legacy token" in checks["token"]["message"]
    assert "f" * 40 not in result.output
    assert checks["sample-task"]["status"] == "skip"


def test_nothing_listening_fails_with_what_to_check(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(label_studio_url=f"http://127.0.0.1:{port}", api_key="x" * 40, cache_dir=tmp_path / "c")
    checks = by_name(run_checks(settings))
    assert checks["label-studio"].status == "fail" and "cannot reach" in checks["label-studio"].message
    assert checks["token"].status == "skip"


def test_a_server_that_is_not_label_studio_is_named(file_server, tmp_path):
    file_server.add("/api/version", body=b"<html>hello</html>", headers={"Content-Type": "text/html"})
    settings = Settings(label_studio_url=file_server.origin, api_key="x" * 40, cache_dir=tmp_path / "c")
    checks = by_name(run_checks(settings))
    assert checks["label-studio"].status == "fail" and "root URL" in checks["label-studio"].message


def test_folders_and_cache_and_clouds_without_label_studio(tmp_path, monkeypatch):
    settings = Settings(local_files_root=tmp_path / "missing", upload_dir=tmp_path, cache_dir=tmp_path / "cache")
    checks = by_name(run_checks(settings))
    assert checks["label-studio"].status == "fail" and "LABEL_STUDIO_URL" in checks["label-studio"].message
    assert checks["local-files-root"].status == "fail" and "not a folder" in checks["local-files-root"].message
    assert checks["upload-dir"].status == "ok"
    assert checks["cache"].status in ("ok", "warn") and "writable" in checks["cache"].message
    assert checks["s3"].status == "warn"  # boto3 is installed for the tests; no credentials here
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    assert by_name(run_checks(settings))["s3"].status == "ok"


IMAGE_CONFIG = '<View><Image name="image" value="$image"/></View>'


def _fake_label_studio(file_server, tasks, label_config=IMAGE_CONFIG):  # type: ignore[no-untyped-def]
    """Label Studio's version, whoami, project 1 (its labeling config) and task list, and one
    uploaded file, on a loopback server."""
    from tests.fake_label_studio import FakeLabelStudio

    ls = FakeLabelStudio(file_server)
    ls.serve_file("/data/upload/1/a.jpg", b"\xff\xd8 jpeg")
    file_server.add("/api/version", body=b'{"release": "1.23.2"}', headers={"Content-Type": "application/json"})

    def answer(body: object):  # type: ignore[no-untyped-def]
        def handler(request):  # type: ignore[no-untyped-def]
            if not ls.authorized(request):
                return 401, {"Content-Type": "application/json"}, b'{"detail": "no"}'
            return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

        return handler

    file_server.add("/api/current-user/whoami", handler=answer({"email": "a@example.com"}))
    file_server.add("/api/tasks", handler=answer({"tasks": tasks, "total": len(tasks)}))
    project = {"id": 1, "title": "p", "label_config": label_config, "task_number": len(tasks)}
    file_server.add("/api/projects/1/", handler=answer(project))
    return ls


def test_every_message_is_a_sentence(file_server, tmp_path):
    """Regression: a sample task fetched through Label Studio was "read downloaded into the cache",
    an access token "a access token"."""
    from tests.fake_label_studio import LEGACY_TOKEN

    ls = _fake_label_studio(file_server, [{"id": 5, "data": {"image": "/data/upload/1/a.jpg"}}])
    settings = Settings(label_studio_url=ls.url, api_key=LEGACY_TOKEN, cache_dir=tmp_path / "cache")
    for _run in range(2):  # downloaded, then already in the cache
        checks = by_name(run_checks(settings, project=1))
        assert checks["sample-task"].message == "task 5: /data/upload/1/a.jpg is readable from the cache (7 bytes)"
    assert checks["token"].message == "a legacy token, accepted for a@example.com"
    assert checks["storage"].message == "task 5 uses no storage bucket: its files are uploads, Local Files or URLs"
    assert checks["upload-dir"].message == (
        "ML_DATA_UPLOAD_DIR is not set: uploaded files are downloaded from Label Studio"
    )
    assert checks["local-files-root"].message == (
        "LOCAL_FILES_DOCUMENT_ROOT is not set: files in Local Files storage are downloaded from Label Studio"
    )
    assert checks["cache"].message.startswith(f"{tmp_path / 'cache'} is writable, with ")

    access = settings.with_changes(api_key=_access_token(ls))
    token = by_name(run_checks(access))["token"]
    assert token.status == "warn" and token.message.startswith("an access token, accepted for a@example.com (")

    (tmp_path / "upload" / "1").mkdir(parents=True)
    (tmp_path / "upload" / "1" / "a.jpg").write_bytes(b"\xff\xd8 jpeg")
    in_place = by_name(run_checks(settings.with_changes(upload_dir=tmp_path / "upload"), project=1))
    assert in_place["sample-task"].message == "task 5: /data/upload/1/a.jpg is readable in place (7 bytes)"
    assert (
        in_place["upload-dir"].message == f"ML_DATA_UPLOAD_DIR={tmp_path / 'upload'}: uploaded files are read in place"
    )


def test_a_sample_task_without_an_id_or_files_is_named(file_server, tmp_path):
    from tests.fake_label_studio import LEGACY_TOKEN

    ls = _fake_label_studio(file_server, [{"data": {"text": "no files here"}}])
    settings = Settings(label_studio_url=ls.url, api_key=LEGACY_TOKEN, cache_dir=tmp_path / "cache")
    check = by_name(run_checks(settings, project=1))["sample-task"]
    assert (check.status, check.message) == ("warn", "the first task of project 1 references no files")


def test_the_sample_file_is_one_the_fetch_reads_by_the_labeling_config(file_server, tmp_path):
    """The sample is taken as a fetch takes files: under the config's media keys. A URL in a text
    field (first in the task data) is not a file the fetch reads, so it is not the sample; a task
    whose files sit under no key of the config references no files."""
    from tests.fake_label_studio import LEGACY_TOKEN

    file_server.add("/page.html", body=b"not the sample", headers={"Content-Type": "text/html"})
    config = '<View><Text name="link" value="$link"/><Image name="image" value="$image"/></View>'
    task = {"id": 5, "data": {"link": f"{file_server.origin}/page.html", "image": "/data/upload/1/a.jpg"}}
    ls = _fake_label_studio(file_server, [task], config)
    settings = Settings(label_studio_url=ls.url, api_key=LEGACY_TOKEN, cache_dir=tmp_path / "cache")
    check = by_name(run_checks(settings, project=1))["sample-task"]
    assert (check.status, check.message) == ("ok", "task 5: /data/upload/1/a.jpg is readable from the cache (7 bytes)")


def test_a_task_whose_files_sit_under_no_media_key_references_none(file_server, tmp_path):
    from tests.fake_label_studio import LEGACY_TOKEN

    ls = _fake_label_studio(file_server, [{"id": 5, "data": {"photo": "/data/upload/1/a.jpg"}}])
    settings = Settings(label_studio_url=ls.url, api_key=LEGACY_TOKEN, cache_dir=tmp_path / "cache")
    check = by_name(run_checks(settings, project=1))["sample-task"]
    assert (check.status, check.message) == ("warn", "task 5 references no files")


def test_a_labeling_config_that_cannot_be_read_fails_the_sample(file_server, tmp_path):
    from tests.fake_label_studio import LEGACY_TOKEN

    ls = _fake_label_studio(file_server, [{"id": 5, "data": {"image": "/data/upload/1/a.jpg"}}], "<View><Image")
    settings = Settings(label_studio_url=ls.url, api_key=LEGACY_TOKEN, cache_dir=tmp_path / "cache")
    check = by_name(run_checks(settings, project=1))["sample-task"]
    assert check.status == "fail"
    assert check.message.startswith("the labeling config of project 1 cannot be read: ")


def test_the_storages_of_a_sample_task_are_named_and_each_is_read(file_server, other_server, tmp_path):
    """Which storages (scheme and bucket) the task's files are in, and whether each reads the way
    ml-data reads it: here b2://, through Label Studio's resolve endpoint."""
    from tests.fake_label_studio import LEGACY_TOKEN, FakeStorage

    data = {"image": "b2://bucket/cats/1.jpg", "mask": "b2://bucket/cats/1.png", "other": "b2://gone/x.jpg"}
    # Every key is a media object of the config: the storages are those of the files a fetch reads.
    config = "<View>" + "".join(f'<Image name="{key}" value="${key}"/>' for key in (*data, "upload")) + "</View>"
    ls = _fake_label_studio(file_server, [{"id": 7, "data": {**data, "upload": "/data/upload/1/a.jpg"}}], config)
    storage = FakeStorage("b2", "bucket", presigned=other_server)
    storage.put("cats/1.jpg", b"jpeg")
    storage.put("cats/1.png", b"png")
    ls.add_storage(storage, task_ids=[7])
    settings = Settings(label_studio_url=ls.url, api_key=LEGACY_TOKEN, cache_dir=tmp_path / "cache", read_timeout=5)
    for asked in (3, 5):  # the second run asks again, though the file is cached: readable now
        checks = run_checks(settings, project=1)
        storages = [(check.status, check.message) for check in checks if check.name == "storage"]
        assert storages[0] == (
            "ok",
            "b2://bucket (2 files of task 7): readable through Label Studio's resolve endpoint",
        )
        status, message = storages[1]
        assert status == "fail" and message.startswith(
            "b2://gone (1 file of task 7): b2://gone/x.jpg cannot be read through Label Studio's resolve endpoint: "
        )
        assert "Label Studio could not resolve b2://gone/x.jpg" in message and len(storages) == 2
        assert by_name(checks)["sample-task"].status == "ok"
        # The sample file once (then it is cached), and each storage's first file every run.
        assert file_server.gets("/tasks/7/resolve/") == asked
    assert other_server.seen_authorization() == []
    assert failed(checks)


def _access_token(ls) -> str:  # type: ignore[no-untyped-def]
    import requests

    answer = requests.post(f"{ls.url}/api/token/refresh/", json={"refresh": ls.personal_access_token}, timeout=5)
    answer.raise_for_status()
    return str(answer.json()["access"])
