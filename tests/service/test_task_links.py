"""``GET /v1/projects/<id>/tasks`` against a Label Studio whose answers the test writes: where
``rewrite=true`` links point, tasks as Label Studio sent them, and a task list that is not one."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from ml_data import ConfigurationError
from ml_data.service import ServiceSettings, create_app
from tests.support.servers.http_files import FileServer

TOKEN = "task-links-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CONFIG = '<View><Image name="image" value="$image"/></View>'
IMAGE = "http://files.example/cat.jpg"


def label_studio(server: FileServer, tasks: list[object]) -> None:
    """A Label Studio that answers project 3 and one page of ``tasks``."""
    project = {"id": 3, "title": "p", "label_config": CONFIG}
    server.add("/api/projects/3/", body=json.dumps(project).encode(), headers={"Content-Type": "application/json"})
    page = {"tasks": tasks, "total": len(tasks)}
    server.add("/api/tasks", body=json.dumps(page).encode(), headers={"Content-Type": "application/json"})


@pytest.fixture
def make_client(settings, file_server):  # type: ignore[no-untyped-def]
    def make(**service):  # type: ignore[no-untyped-def]
        ls_settings = settings.with_changes(label_studio_url=file_server.origin, api_key="0123456789abcdef" * 2)
        app = create_app(ls_settings, ServiceSettings(token=TOKEN, **service))
        app.testing = True
        return app.test_client()

    return make


def links(answer) -> list[str]:  # type: ignore[no-untyped-def]
    return [task["data"]["image"] for task in answer.get_json()["tasks"] if isinstance(task.get("data"), dict)]


def test_links_use_the_configured_public_url_whatever_the_host(make_client, file_server):
    """Regression: links were built from the client's Host header."""
    label_studio(file_server, [{"id": 7, "data": {"image": IMAGE}}])
    client = make_client(public_url="https://data.example.com/ml-data/")
    answer = client.get("/v1/projects/3/tasks?rewrite=true", headers={**AUTH, "Host": "attacker.example"})
    (link,) = links(answer)
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "data.example.com", "/ml-data/v1/resources")
    assert parse_qs(parts.query) == {"url": [IMAGE], "task_id": ["7"]}


def test_without_a_public_url_links_use_the_checked_host(make_client, file_server):
    label_studio(file_server, [{"id": 7, "data": {"image": IMAGE}}])
    client = make_client(allowed_hosts=("ml-data",))
    (link,) = links(client.get("/v1/projects/3/tasks?rewrite=true", headers={**AUTH, "Host": "ML-DATA:8765"}))
    assert link.startswith("http://ml-data:8765/v1/resources?")
    refused = client.get("/v1/projects/3/tasks?rewrite=true", headers={**AUTH, "Host": "attacker.example"})
    assert refused.status_code == 400 and "attacker.example/v1" not in refused.get_data(as_text=True)
    odd = make_client().get("/v1/projects/3/tasks?rewrite=true", headers={**AUTH, "Host": "x.example/evil?"})
    assert odd.status_code == 400 and odd.get_json()["error"] == "bad_host"


@pytest.mark.parametrize("rewrite", ["true", "false"])
def test_a_task_with_null_data_keeps_it_null(make_client, file_server, rewrite):
    """Regression: ``"data": null`` came back as ``{}``."""
    tasks = [{"id": 1, "data": None}, {"id": 2}, {"id": 3, "data": "text"}, {"id": 4, "data": {"image": IMAGE}}]
    label_studio(file_server, tasks)
    answer = make_client().get(f"/v1/projects/3/tasks?rewrite={rewrite}", headers=AUTH)
    assert answer.status_code == 200
    found = answer.get_json()["tasks"]
    assert found[:3] == tasks[:3]
    assert (found[3]["data"]["image"] != IMAGE) == (rewrite == "true")


def test_only_the_files_the_config_names_are_pointed_at_the_sidecar(make_client, file_server):
    """The rewrite touches the values the resource walk finds (the config's media keys), as the
    fetch does: the same URL as text under another key is the task's text and stays as it is."""
    tasks = [{"id": 7, "data": {"caption": IMAGE, "image": IMAGE, "links": [IMAGE]}}]
    label_studio(file_server, tasks)
    answer = make_client(public_url="https://data.example.com").get("/v1/projects/3/tasks?rewrite=true", headers=AUTH)
    (task,) = answer.get_json()["tasks"]
    assert task["data"]["caption"] == IMAGE and task["data"]["links"] == [IMAGE]
    assert parse_qs(urlsplit(task["data"]["image"]).query) == {"url": [IMAGE], "task_id": ["7"]}
    assert list(task["data"]) == ["caption", "image", "links"]


@pytest.mark.parametrize("entry", [5, "task", None, [1, 2], True])
@pytest.mark.parametrize("rewrite", ["true", "false"])
def test_an_entry_that_is_not_a_task_is_label_studios_fault(make_client, file_server, entry, rewrite):
    """Regression: a non-object entry in Label Studio's task list answered 500."""
    label_studio(file_server, [{"id": 1, "data": {"image": IMAGE}}, entry])
    answer = make_client().get(f"/v1/projects/3/tasks?rewrite={rewrite}", headers=AUTH)
    assert answer.status_code == 502
    body = answer.get_json()
    assert body["error"] == "upstream_error"
    assert "entry 2" in body["message"] and f"{file_server.origin}/api/tasks" in body["message"]


@pytest.mark.parametrize("url", ["data.example.com", "ftp://x", "https://x/?a=1", "https://x/#f", "https://u@x/"])
def test_a_public_url_that_is_not_one_is_refused_at_start(url):
    with pytest.raises(ConfigurationError, match="ML_DATA_SERVICE_URL"):
        ServiceSettings(token=TOKEN, public_url=url)


def test_the_settings_come_from_the_environment():
    service = ServiceSettings.from_env(
        {"ML_DATA_SERVICE_URL": "http://Box:8765/", "ML_DATA_SERVICE_ALLOWED_HOSTS": " box , box.lan:8765 ,"}
    )
    assert service.public_url == "http://box:8765" and service.allowed_hosts == ("box", "box.lan:8765")
