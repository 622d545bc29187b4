"""The Label Studio client's answers to what a real server rarely does on demand: 403, an answer
that is not Label Studio's, a failed snapshot, a broken export download, chunk planning."""

from __future__ import annotations

import json

import pytest
import responses

from ml_data.config import Settings
from ml_data.errors import (
    AccessDenied,
    ConfigurationError,
    IncompleteDownload,
    LabelStudioNotConfigured,
    UpstreamError,
)
from ml_data.labelstudio import LabelStudioClient, http_client

URL = "http://ls.test:8080"
TOKEN = "legacy-token-0123456789"


@pytest.fixture
def client(tmp_path):
    settings = Settings(label_studio_url=URL, api_key=TOKEN, cache_dir=tmp_path, retries=0)
    # responses answers before any connection: the made-up host needs an address, never used.
    return LabelStudioClient(settings, http=http_client(settings, resolve_host=lambda host, port: ("127.0.0.1",)))


def test_needs_a_url_and_a_token(tmp_path):
    with pytest.raises(LabelStudioNotConfigured, match="LABEL_STUDIO_URL"):
        LabelStudioClient(Settings(cache_dir=tmp_path))
    with pytest.raises(ConfigurationError, match="LABEL_STUDIO_API_KEY"):
        LabelStudioClient(Settings(label_studio_url=URL, cache_dir=tmp_path))


@responses.activate
def test_403_says_the_user_lacks_access_and_quotes_the_server(client):
    responses.get(f"{URL}/api/projects/3/", status=403, json={"detail": "You do not have permission"})
    with pytest.raises(AccessDenied) as caught:
        client.project(3)
    message = str(caught.value)
    assert "HTTP 403" in message and "You do not have permission" in message and TOKEN not in message


@responses.activate
def test_an_answer_that_is_not_label_studio(client):
    responses.get(f"{URL}/api/projects/3/", body="<html>a login page</html>", content_type="text/html")
    with pytest.raises(UpstreamError, match="root URL of Label Studio"):
        client.project(3)
    responses.replace(responses.GET, f"{URL}/api/projects/3/", json={"id": 3, "title": "no config"})
    with pytest.raises(UpstreamError, match="no label_config"):
        client.project(3)


@responses.activate
def test_the_token_goes_as_a_legacy_token_header(client):
    responses.get(f"{URL}/api/projects/3/", json={"id": 3, "title": "t", "label_config": "<View/>", "task_number": 2})
    project = client.project(3)
    assert project.task_count == 2
    assert responses.calls[0].request.headers["Authorization"] == f"Token {TOKEN}"


@responses.activate
def test_a_failed_snapshot_is_reported_and_deleted(client, tmp_path, monkeypatch):
    monkeypatch.setattr("ml_data.labelstudio.client.SNAPSHOT_POLL_INTERVAL", 0.0)
    responses.post(f"{URL}/api/projects/3/exports/", json={"id": 7, "status": "in_progress"})
    responses.get(f"{URL}/api/projects/3/exports/7", json={"id": 7, "status": "failed"})
    deleted = responses.delete(f"{URL}/api/projects/3/exports/7", status=204)
    with pytest.raises(UpstreamError, match="failed to write export snapshot 7"):
        client.export(3, tmp_path / "export.json", snapshot=True)
    assert deleted.call_count == 1
    body = json.loads(responses.calls[0].request.body)
    assert body["annotation_filter_options"] == {"usual": True, "ground_truth": True, "skipped": True}
    assert not list(tmp_path.glob("*export*"))


@responses.activate
def test_a_truncated_export_leaves_no_file(client, tmp_path):
    responses.get(
        f"{URL}/api/projects/3/export",
        body=b'[{"id": 1, "data": {}}',
        headers={"Content-Length": "1000"},
        auto_calculate_content_length=False,
    )
    with pytest.raises((IncompleteDownload, UpstreamError)):
        client.export(3, tmp_path / "export.json")
    assert list(tmp_path.iterdir()) == []


def first_task_page(order: str, task_id: int, total: int) -> None:
    """The one-task page of the Data Manager's list that the chunk plan asks for, in ``order``."""
    query = json.dumps({"ordering": [order]}, separators=(",", ":"))
    responses.get(
        f"{URL}/api/tasks",
        match=[
            responses.matchers.query_param_matcher(
                {"project": "3", "fields": "task_only", "page": "1", "page_size": "1", "query": query}
            )
        ],
        json={"tasks": [{"id": task_id}], "total": total},
    )


@responses.activate
def test_chunk_plan_from_the_id_span(client):
    first_task_page("tasks:id", 10, 5)
    first_task_page("-tasks:id", 14, 5)
    responses.get(f"{URL}/api/projects/3/export", json=[{"id": 10}, {"id": 11}])
    chunks = client.export_chunks(3, chunk_size=2)
    assert chunks is not None
    first = next(iter(chunks))
    assert first == [{"id": 10}, {"id": 11}]
    request = responses.calls[-1].request
    assert "ids%5B%5D=10" in request.url and "ids%5B%5D=11" in request.url and "ids%5B%5D=12" not in request.url


@responses.activate
def test_sparse_ids_fall_back_to_one_export(client):
    first_task_page("tasks:id", 1, 10)
    first_task_page("-tasks:id", 100_000, 10)
    assert client.export_chunks(3) is None


@responses.activate
def test_a_refused_first_chunk_falls_back_to_one_export(client):
    """A proxy in front of Label Studio may refuse long URLs (414): one export instead."""
    first_task_page("tasks:id", 1, 3)
    first_task_page("-tasks:id", 3, 3)
    responses.get(f"{URL}/api/projects/3/export", status=414)
    assert client.export_chunks(3) is None


@responses.activate
def test_chunks_keep_their_urls_under_the_budget(client):
    first_task_page("tasks:id", 100_000, 2000)
    first_task_page("-tasks:id", 101_999, 2000)
    responses.get(f"{URL}/api/projects/3/export", json=[{"id": 100_000}])
    assert client.export_chunks(3) is not None
    query = responses.calls[-1].request.url.split("?", 1)[1]
    assert 5000 < len(query) <= 6100


@responses.activate
def test_chunks_within_id_ranges_ask_only_for_those_ids(client):
    """``--ids``: the chunks are cut to the ranges given, so the other tasks are never exported."""
    first_task_page("tasks:id", 1, 1000)
    first_task_page("-tasks:id", 1000, 1000)
    assert client.export_id_ranges(3, chunk_size=100, within=[(50, 120), (990, 2000)]) == [
        range(50, 101),
        range(101, 121),
        range(990, 1001),
    ]
    assert client.export_id_ranges(3, chunk_size=100, within=[(5000, 6000)]) == []
