"""Whatever string a client or a webhook sends as a URL, the service answers with a typed JSON
error or a file, and a job records it as that URL's failure; nothing answers 500, no job fails.

Regression: ``/v1/resources?url=file://[x`` answered 500, and a prefetch or webhook job holding
such a URL ended ``failed`` (urlsplit's bare ValueError stopped the whole batch).
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from ml_data.service import ServiceSettings, create_app
from tests.support.jobs import wait_for_job
from tests.support.url_strategies import REPORTED, any_url

TOKEN = "url-strings-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FIXTURES_ACROSS_EXAMPLES = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
#: What the service answers for an exception that is not a typed error.
UNTYPED = "internal_error"


@pytest.fixture
def good(file_server):  # type: ignore[no-untyped-def]
    file_server.add("/good.jpg", body=b"good")
    return file_server.url("/good.jpg")


@pytest.fixture
def client(settings, file_server, tmp_path):  # type: ignore[no-untyped-def]
    """The service allowed to fetch only from the test's own file server, with a Local Files
    folder (so that paths reach the file system too)."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.jpg").write_bytes(b"a")
    settings = settings.with_changes(local_files_root=root)
    app = create_app(settings, ServiceSettings(token=TOKEN, allow=(file_server.origin,)))
    app.testing = True
    return app.test_client()


def _resources(client, url: str):  # type: ignore[no-untyped-def]
    # Percent-encoded by hand: any string, lone surrogates and NUL included, reaches the service.
    query = "url=" + quote(url, safe="", errors="surrogatepass")
    return client.get(f"/v1/resources?{query}", headers=AUTH)


@pytest.mark.parametrize("url", REPORTED)
def test_a_url_urlsplit_refuses_is_a_400_naming_it(client, url):
    response = _resources(client, url)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"] in ("unsupported_url", "unsafe_path")
    assert url in response.get_json()["message"]


@given(url=any_url)
@hypothesis_settings(max_examples=400, deadline=None, suppress_health_check=FIXTURES_ACROSS_EXAMPLES)
def test_resources_answers_a_file_or_a_typed_json_error(client, url):
    response = _resources(client, url)
    if response.status_code != 200:
        body = response.get_json()
        assert response.status_code != 500 and body["error"] != UNTYPED and body["message"], (url, body)


def _finished(client, body):  # type: ignore[no-untyped-def]
    response = client.post("/v1/prefetch", json=body, headers=AUTH)
    assert response.status_code == 202, response.get_json()
    return wait_for_job(client, response.get_json()["id"], AUTH)


@pytest.mark.parametrize("bad", REPORTED)
def test_a_prefetch_job_records_a_bad_url_and_fetches_the_others(client, good, file_server, bad):
    job = _finished(client, {"urls": [bad, good]})
    assert job["state"] == "done_with_errors" and job["done"] == 1 and job["failed"] == 1, job
    assert [error["url"] for error in job["errors"]] == [bad]
    assert file_server.gets("/good.jpg") == 1


@given(urls=st.lists(any_url.filter(bool), min_size=1, max_size=4, unique=True))
@example(urls=["file://[x"])
@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=FIXTURES_ACROSS_EXAMPLES)
def test_a_prefetch_job_ends_with_each_urls_outcome(client, good, urls):
    job = _finished(client, {"urls": [*urls, good]})
    assert job["state"] in ("done", "done_with_errors"), job
    assert job["done"] + job["failed"] == len({*urls, good}) and job["done"] >= 1
    assert all(error["error"] != UNTYPED for error in job["errors"])


def test_a_webhook_job_records_a_bad_url_and_fetches_the_others(client, good, file_server):
    tasks = [{"id": 1, "data": {"image": "file://[x"}}, {"id": 2, "data": {"image": good}}]
    response = client.post("/v1/webhooks/label-studio", json={"action": "TASKS_CREATED", "tasks": tasks}, headers=AUTH)
    assert response.status_code == 202, response.get_json()
    job = wait_for_job(client, response.get_json()["job"]["id"], AUTH)
    assert job["state"] == "done_with_errors" and job["done"] == 1 and job["failed"] == 1, job
    assert job["errors"][0]["url"] == "file://[x" and job["errors"][0]["error"] == "unsupported_url"
    assert file_server.gets("/good.jpg") == 1
