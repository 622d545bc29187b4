"""What the service answers for what the cache holds: a checked Content-Type whatever a data: URI
or an entry's metadata says, and a JSON 503 with Retry-After when the cache's disk is full."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from ml_data.cache import Cache
from ml_data.resolvers.parse import parse_ref
from ml_data.service import ServiceSettings, create_app
from tests.support.disk_faults import Faults, temp_files

TOKEN = "s3cret-service-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(settings):  # type: ignore[no-untyped-def]
    app = create_app(settings, ServiceSettings(token=TOKEN))
    app.testing = True
    return app.test_client()


def resource(client, url: str):  # type: ignore[no-untyped-def]
    return client.get(f"/v1/resources?url={quote(url, safe='')}", headers=AUTH)


@pytest.mark.parametrize(
    "media_type", ["text/plain\r\nSet-Cookie: a=b", "text/plain\rX: 1", "image/png\x01", "image/" + "x" * 5000]
)
def test_a_data_uri_with_a_hostile_media_type_is_served_as_bytes_every_time(client, media_type):
    uri = f"data:{media_type};base64,aGVsbG8="
    for _ in range(2):  # the first answer writes the entry, the second reads it back
        response = resource(client, uri)
        assert response.status_code == 200 and response.data == b"hello"
        assert response.headers["Content-Type"] == "application/octet-stream"
        assert "Set-Cookie" not in response.headers and "X" not in response.headers


def test_an_entry_whose_metadata_was_tampered_with_is_still_served(client, settings):
    uri = "data:text/plain;base64,aGVsbG8="
    entry = Cache(settings.cache_dir).put(
        parse_ref(uri).identity, "data.txt", [b"hello"], source=uri, content_type="text/plain"
    )
    meta_path = entry.path.parent / ".meta.json"
    meta = json.loads(meta_path.read_text("utf-8"))
    meta["content_type"] = "text/html\r\nSet-Cookie: a=b"
    meta_path.write_text(json.dumps(meta), "utf-8")
    for _ in range(2):
        response = resource(client, uri)
        assert response.status_code == 200 and response.data == b"hello"
        assert response.headers["Content-Type"] == "application/octet-stream"


def test_a_full_disk_is_a_json_503_with_retry_after(client, settings, monkeypatch):
    uri = "data:text/plain;base64,aGVsbG8="
    with monkeypatch.context() as patch:
        Faults(patch, settings.cache_dir, fail_at=1)
        response = resource(client, uri)
    assert response.status_code == 503 and int(response.headers["Retry-After"]) > 0
    body = response.get_json()
    assert body["error"] == "cache_unavailable" and "the cache folder $ML_DATA_CACHE_DIR is full" in body["message"]
    assert str(settings.cache_dir) not in body["message"]  # the folder is the server's business
    assert temp_files(settings.cache_dir) == []
    assert resource(client, uri).status_code == 200  # room again
