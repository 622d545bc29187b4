"""``rewrite=true`` on tasks with several images whose data is hostile: pages that are not
objects, keys spelled like the key path, data nested hundreds of levels deep. Only the pages'
URLs are pointed at the sidecar; every other value comes back as Label Studio sent it."""

from __future__ import annotations

import copy
import json
from urllib.parse import parse_qs, urlsplit

from ml_data.service import ServiceSettings, create_app

TOKEN = "task-links-hostile-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CONFIG = '<View><Repeater on="$pages"><Image name="page_{{idx}}" value="$pages[{{idx}}].url"/></Repeater></View>'


def deep(depth: int) -> dict:
    data: dict = {}
    node = data
    for _ in range(depth):
        node["pages"] = {}
        node = node["pages"]
    node["url"] = "http://files.example/deep.png"
    return data


def test_only_the_pages_urls_are_rewritten_whatever_else_the_data_holds(settings, file_server):  # type: ignore[no-untyped-def]
    pages = [
        {"url": "http://files.example/0.png"},
        "http://files.example/not-a-page-object.png",
        {"url": ["http://files.example/2a.png", "http://files.example/2b.png"]},
        {"url": {"nested": "http://files.example/3.png"}},
        None,
        {"url": "http://files.example/0.png", "note": "http://files.example/0.png"},
    ]
    data = {
        "pages": pages,
        "pages[0].url": "http://files.example/literal-key.png",
        "pages.0.url": "http://files.example/dotted-key.png",
        "deep": deep(400),
    }
    project = {"id": 3, "title": "p", "label_config": CONFIG}
    page = {"tasks": [{"id": 9, "data": data}], "total": 1}
    for path, body in (("/api/projects/3/", project), ("/api/tasks", page)):
        file_server.add(path, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    ls = settings.with_changes(label_studio_url=file_server.origin, api_key="0123456789abcdef" * 2)
    app = create_app(ls, ServiceSettings(token=TOKEN, public_url="https://data.example.com"))
    answer = app.test_client().get("/v1/projects/3/tasks?rewrite=true", headers=AUTH)
    assert answer.status_code == 200
    (task,) = answer.get_json()["tasks"]
    got = task["data"]

    def link(url: str) -> str:
        return f"https://data.example.com/v1/resources?url={url.replace(':', '%3A').replace('/', '%2F')}&task_id=9"

    expected = copy.deepcopy(data)
    expected["pages"][0]["url"] = link(pages[0]["url"])
    expected["pages"][2]["url"] = [link(url) for url in pages[2]["url"]]
    expected["pages"][5]["url"] = link(pages[5]["url"])  # its note, the same URL as text, stays
    assert got == expected
    assert parse_qs(urlsplit(got["pages"][0]["url"]).query) == {"url": [pages[0]["url"]], "task_id": ["9"]}
