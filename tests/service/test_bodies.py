"""Every request body is checked against the schema the OpenAPI document publishes: a hostile or
careless client gets a 400 naming the problem, never a 500 and never a job that fails later."""

from __future__ import annotations

import json

import pytest

from ml_data import resolve_many
from ml_data.errors import UnsafeURL
from ml_data.service import ServiceSettings, create_app
from ml_data.service.openapi import OPENAPI
from ml_data.service.schemas import DATASET, PREFETCH, WEBHOOK
from tests.support.jobs import wait_for_job

TOKEN = "body-token"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


@pytest.fixture
def client(settings, file_server):  # type: ignore[no-untyped-def]
    app = create_app(settings, ServiceSettings(token=TOKEN, allow=(file_server.origin,)))
    app.testing = True
    return app.test_client()


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    "body",
    [
        '{"urls": 5}',
        "true",
        "1.5",
        '{"tasks": 5}',
        '{"urls": NaN}',
        '{"urls": [Infinity]}',
        DEEP,
        '{"urls": ' + DEEP + "}",
        '{"urls": "abc"}',
        "{}",
        '{"urls": ["a"], "project": 3}',
        '{"project": 1e30}',
        '{"project": -1}',
        '{"urls": [{"url": "x", "task_id": "seven"}]}',
        '{"urls": [""]}',
        "\xff\xfe",
    ],
)
def test_bad_prefetch_bodies_are_400(client, body):
    response = client.post("/v1/prefetch", data=body.encode("utf-8", "surrogateescape"), headers=AUTH)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"] == "bad_request"


@pytest.mark.parametrize(
    "body",
    ['{"action": "x", "tasks": 5}', '{"action": 5}', '{"tasks": []}', '{"action": "x", "task": [1]}', "[]", DEEP],
)
def test_bad_webhook_bodies_are_400(client, body):
    response = client.post("/v1/webhooks/label-studio", data=body, headers=AUTH)
    assert response.status_code == 400 and response.get_json()["error"] == "bad_request"


@pytest.mark.parametrize(
    "body",
    [
        {"format": "yolo", "split": 5},
        {"format": "yolo", "category_start": 1e30},
        {"format": "yolo", "annotations": 5},
        {"format": "yolo", "on_error": "explode"},
        {"format": "yolo", "split": {"train": 2}},
        {"format": "yolo", "predictions": "yes"},
    ],
)
def test_bad_dataset_options_are_refused_before_the_job(client, body):
    """Regression: these answered 500, or 202 with a job that failed later."""
    response = client.post("/v1/projects/3/datasets", data=json.dumps(body), headers=AUTH)
    assert response.status_code == 400 and response.get_json()["error"] == "bad_request"
    assert client.get("/v1/info", headers=AUTH).status_code == 200


def test_the_openapi_document_publishes_the_schemas_that_are_enforced():
    paths = OPENAPI["paths"]
    body = "requestBody"
    assert paths["/v1/prefetch"]["post"][body]["content"]["application/json"]["schema"] is PREFETCH
    assert paths["/v1/webhooks/label-studio"]["post"][body]["content"]["application/json"]["schema"] is WEBHOOK
    assert paths["/v1/projects/{project_id}/datasets"]["post"][body]["content"]["application/json"]["schema"] is DATASET


def test_one_url_with_a_lone_surrogate_does_not_fail_the_batch(client, file_server):
    """Regression: a lone surrogate failed a whole prefetch job."""
    file_server.add("/ok.bin", body=b"ok")
    body = '{"urls": ["' + file_server.url("/ok.bin") + '", "' + file_server.url("/bad\\ud800.bin") + '"]}'
    response = client.post("/v1/prefetch", data=body, headers=AUTH)
    assert response.status_code == 202
    job = wait_for_job(client, response.get_json()["id"], AUTH, timeout=30)
    assert (job["state"], job["done"], job["failed"]) == ("done_with_errors", 1, 1)
    assert file_server.gets("/ok.bin") == 1


def test_resolve_many_records_a_lone_surrogate_url(file_server, settings):
    file_server.add("/ok.bin", body=b"ok")
    bad = file_server.url("/x\ud800.jpg")
    result = resolve_many([file_server.url("/ok.bin"), bad], settings=settings, progress=False)
    assert list(result.files) == [file_server.url("/ok.bin")]
    assert isinstance(result.errors[bad], UnsafeURL)


def test_a_relative_cache_folder_still_serves_its_files(tmp_path, monkeypatch):
    """Regression: with a relative ML_DATA_CACHE_DIR, send_file looked for the file under the
    service package (500) instead of the working directory."""
    from ml_data import Settings

    monkeypatch.chdir(tmp_path)
    app = create_app(Settings(cache_dir="relative-cache"), ServiceSettings(token=TOKEN))
    response = app.test_client().get(
        "/v1/resources", query_string={"url": "data:text/plain,hello"}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 200 and response.data == b"hello"
    assert (tmp_path / "relative-cache").is_dir()
