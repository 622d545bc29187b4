"""The sidecar service: auth, JSON errors, resources with Range/ETag, prefetch jobs, webhooks, and
the SSRF guard against real loopback servers."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from ml_data import ConfigurationError
from ml_data.service import ServiceSettings, create_app
from tests.support.fake_label_studio import FakeLabelStudio
from tests.support.jobs import wait_for_job
from tests.support.servers.http_files import FileServer

TOKEN = "s3cret-service-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DATA = "data:text/plain;base64,aGVsbG8gd29ybGQ="


@pytest.fixture
def make_app(settings):  # type: ignore[no-untyped-def]
    def make(allow: tuple[str, ...] = (), **changes):  # type: ignore[no-untyped-def]
        app = create_app(settings.with_changes(**changes), ServiceSettings(token=TOKEN, allow=allow))
        app.testing = True
        return app

    return make


@pytest.fixture
def client(make_app, file_server):  # type: ignore[no-untyped-def]
    return make_app(allow=(file_server.origin,)).test_client()


def wait_for(client, job_id):  # type: ignore[no-untyped-def]
    return wait_for_job(client, job_id, AUTH, timeout=30)


def test_refuses_to_start_without_a_token(settings):
    with pytest.raises(ConfigurationError, match="ML_DATA_SERVICE_TOKEN"):
        create_app(settings, ServiceSettings())


def test_healthz_needs_no_token(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/v1/info"),
        ("get", "/v1/openapi.json"),
        ("get", f"/v1/resources?url={DATA}"),
        ("post", "/v1/prefetch"),
        ("get", "/v1/jobs/x"),
        ("post", "/v1/webhooks/label-studio"),
        ("get", "/v1/projects/3/tasks"),
        ("post", "/v1/projects/3/datasets"),
        ("get", "/v1/datasets/x/download"),
    ],
)
@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Token {TOKEN}", "Bearer"])
def test_every_endpoint_needs_the_token(client, method, path, header):
    headers = {"Authorization": header} if header else {}
    response = getattr(client, method)(path, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"


def test_info(client):
    info = client.get("/v1/info", headers=AUTH).get_json()
    assert info["version"] and info["cache"]["entries"] == 0


def test_openapi_document_lists_every_endpoint(client):
    document = client.get("/v1/openapi.json", headers=AUTH).get_json()
    assert document["openapi"].startswith("3.")
    assert {
        "/healthz",
        "/v1/info",
        "/v1/resources",
        "/v1/prefetch",
        "/v1/jobs/{job_id}",
        "/v1/webhooks/label-studio",
    } <= set(document["paths"])


def test_resource_is_streamed_with_etag_and_range(client):
    response = client.get(f"/v1/resources?url={DATA}", headers=AUTH)
    assert response.status_code == 200 and response.data == b"hello world"
    assert response.headers["Content-Type"].startswith("text/plain")
    etag = response.headers["ETag"]
    assert etag.strip('"') == hashlib.sha256(b"hello world").hexdigest()
    assert client.get(f"/v1/resources?url={DATA}", headers={**AUTH, "If-None-Match": etag}).status_code == 304
    partial = client.get(f"/v1/resources?url={DATA}", headers={**AUTH, "Range": "bytes=6-"})
    assert partial.status_code == 206 and partial.data == b"world"


def test_resource_as_path_for_backends_sharing_the_volume(client):
    body = client.get(f"/v1/resources?url={DATA}&as=path", headers=AUTH).get_json()
    assert open(body["path"], "rb").read() == b"hello world" and body["size"] == 11


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("", 400, "bad_request"),
        ("?url=ftp://x/y", 400, "unsupported_url"),
        ("?url=/data/local-files/?d=../../etc/passwd", 400, "unsafe_path"),
        ("?url=s3://bucket/key&task_id=nope", 400, "bad_request"),
        ("?url=s3://not-allowed/key", 403, "url_not_allowed"),
    ],
)
def test_bad_input_is_a_json_error(client, query, status, code):
    response = client.get(f"/v1/resources{query}", headers=AUTH)
    assert response.status_code == status
    assert response.get_json()["error"] == code and response.get_json()["message"]


def test_upstream_failures_map_to_404_502_504(make_app, file_server):
    file_server.add("/500", status=500, body=b"no")
    file_server.add("/stall", body=b"x", stall_before=2)
    client = make_app(allow=(file_server.origin,), retries=0, read_timeout=0.3).test_client()
    assert client.get(f"/v1/resources?url={file_server.url('/missing')}", headers=AUTH).status_code == 404
    assert client.get(f"/v1/resources?url={file_server.url('/500')}", headers=AUTH).status_code == 502
    assert client.get(f"/v1/resources?url={file_server.url('/stall')}", headers=AUTH).status_code == 504


def test_allowlisted_origin_is_served(client, file_server):
    file_server.add("/cat.jpg", body=b"cat")
    response = client.get(f"/v1/resources?url={file_server.url('/cat.jpg')}", headers=AUTH)
    assert response.status_code == 200 and response.data == b"cat"


@pytest.fixture
def forbidden_listener(file_server):  # type: ignore[no-untyped-def]
    """A listener on 127.0.0.2 at the allowed server's port: it must never see a connection."""
    with FileServer(host="127.0.0.2", port=file_server.port) as twin:
        twin.add("/secret", body=b"internal")
        yield twin


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.2:{port}/secret",
        "http://2130706434:{port}/secret",  # 127.0.0.2 as one number
        "http://0x7f000002:{port}/secret",
        "http://127.2:{port}/secret",
        "http://[::ffff:127.0.0.2]:{port}/secret",
        "http://localhost:{port}/secret",
        "http://127.0.0.2.nip.io:{port}/secret",
    ],
)
def test_ssrf_any_url_form_reaches_nothing(client, file_server, forbidden_listener, url):
    response = client.get(f"/v1/resources?url={url.format(port=file_server.port)}", headers=AUTH)
    assert response.status_code in (400, 403)  # unreadable spellings are refused as unsafe
    assert forbidden_listener.connections == set() and forbidden_listener.requests == []


def test_ssrf_through_a_redirect_reaches_nothing(client, file_server, forbidden_listener):
    file_server.add("/bounce", redirect_to=f"http://127.0.0.2:{file_server.port}/secret")
    response = client.get(f"/v1/resources?url={file_server.url('/bounce')}", headers=AUTH)
    assert response.status_code == 403
    assert forbidden_listener.requests == []


def test_allowlisted_hostname_resolving_to_loopback_is_refused(make_app, file_server):
    client = make_app(allow=(f"http://localhost:{file_server.port}",)).test_client()
    file_server.add("/x", body=b"x")
    response = client.get(f"/v1/resources?url=http://localhost:{file_server.port}/x", headers=AUTH)
    assert response.status_code == 403 and file_server.requests == []


def test_prefetch_job_reports_progress_and_errors(client, file_server):
    for name in ("a", "b", "c"):
        file_server.add(f"/{name}.bin", body=name.encode())
    urls = [file_server.url(f"/{name}.bin") for name in "abc"] + ["http://127.0.0.2:1/x", DATA]
    response = client.post("/v1/prefetch", json={"urls": urls}, headers=AUTH)
    assert response.status_code == 202
    job = wait_for(client, response.get_json()["id"])
    assert (job["state"], job["total"], job["done"], job["failed"]) == ("done_with_errors", 5, 4, 1)
    assert job["errors"][0]["error"] == "url_not_allowed"
    assert file_server.gets("/a.bin") == 1


def test_prefetch_rejects_bad_bodies(client):
    as_json = {**AUTH, "Content-Type": "application/json"}
    assert client.post("/v1/prefetch", data="not json", headers=as_json).status_code == 400
    assert client.post("/v1/prefetch", json={"urls": [3]}, headers=AUTH).status_code == 400
    huge = client.post(
        "/v1/prefetch", data=b"x" * (2 * 1024 * 1024), headers={**AUTH, "Content-Type": "application/json"}
    )
    assert huge.status_code == 413 and huge.get_json()["error"]


def test_unknown_job_is_404(client):
    assert client.get("/v1/jobs/nope", headers=AUTH).get_json()["error"] == "not_found"


def test_webhook_prefetches_the_tasks_resources(client, file_server):
    file_server.add("/img.jpg", body=b"img")
    event = {
        "action": "TASKS_CREATED",
        "tasks": [{"id": 7, "data": {"image": file_server.url("/img.jpg"), "text": "hi"}}],
    }
    response = client.post("/v1/webhooks/label-studio", json=event, headers=AUTH)
    assert response.status_code == 202
    job = wait_for(client, response.get_json()["job"]["id"])
    assert job["done"] == 1 and file_server.gets("/img.jpg") == 1
    nothing = client.post("/v1/webhooks/label-studio", json={"action": "PROJECT_UPDATED"}, headers=AUTH)
    assert nothing.status_code == 200 and nothing.get_json()["job"] is None
    assert client.post("/v1/webhooks/label-studio", json={"no": "action"}, headers=AUTH).status_code == 400


def test_request_ids_are_returned(client):
    assert client.get("/healthz", headers={"X-Request-Id": "abc123"}).headers["X-Request-Id"] == "abc123"
    assert len(client.get("/healthz").headers["X-Request-Id"]) == 16


def test_a_real_server_streams_ranges_to_concurrent_clients(make_app, file_server):
    import waitress

    body = bytes(range(256)) * 4096  # 1 MiB
    file_server.add("/big.bin", body=body)
    app = make_app(allow=(file_server.origin,))
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=8)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.effective_port}/v1/resources"
        params = {"url": file_server.url("/big.bin")}

        def fetch(start: int) -> bytes:
            response = requests.get(
                base, params=params, headers={**AUTH, "Range": f"bytes={start}-{start + 999}"}, timeout=10
            )
            assert response.status_code == 206
            return response.content

        with ThreadPoolExecutor(8) as pool:
            parts = list(pool.map(fetch, range(0, 80_000, 10_000)))
        assert all(part == body[i * 10_000 : i * 10_000 + 1000] for i, part in enumerate(parts))
        assert file_server.gets("/big.bin") == 1
    finally:
        server.close()
        thread.join(5)


def test_cli_refuses_no_auth_off_loopback():
    from click.testing import CliRunner

    from ml_data.cli import main

    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--no-auth"])
    assert result.exit_code == 1 and "loopback" in result.output


def test_local_files_are_served_in_place_with_a_cheap_etag(make_app, tmp_path):
    root = tmp_path / "files"
    root.mkdir()
    (root / "a.txt").write_bytes(b"local")
    client = make_app(local_files_root=root).test_client()
    response = client.get("/v1/resources?url=/data/local-files/?d=a.txt", headers=AUTH)
    assert response.data == b"local"
    etag = response.headers["ETag"]
    assert hashlib.sha256(b"local").hexdigest() not in etag
    assert (
        client.get("/v1/resources?url=/data/local-files/?d=a.txt", headers={**AUTH, "If-None-Match": etag}).status_code
        == 304
    )
    (root / "a.txt").write_bytes(b"changed!")
    assert (
        client.get("/v1/resources?url=/data/local-files/?d=a.txt", headers={**AUTH, "If-None-Match": etag}).status_code
        == 200
    )
    path = client.get("/v1/resources?url=/data/local-files/?d=../../etc/passwd", headers=AUTH)
    assert path.status_code == 400


def test_a_personal_access_token_is_renewed_through_the_guard(make_app, file_server):
    """The token exchange goes through the service's guarded client: the guard lets it reach Label
    Studio's refresh path, while a URL from a request naming that path is still refused."""
    ls = FakeLabelStudio(file_server)
    ls.serve_file("/data/upload/1/x.jpg", b"img")
    client = make_app(label_studio_url=ls.url, api_key=ls.personal_access_token).test_client()
    answer = client.get("/v1/resources", query_string={"url": "/data/upload/1/x.jpg"}, headers=AUTH)
    assert answer.status_code == 200 and answer.data == b"img"
    assert ls.refreshes == 1
    refused = client.get("/v1/resources", query_string={"url": f"{ls.url}/api/token/refresh/"}, headers=AUTH)
    assert refused.status_code == 403
    assert [r.path for r in file_server.requests] == ["/api/token/refresh/", "/data/upload/1/x.jpg"]
