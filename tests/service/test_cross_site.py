"""A web page of another site makes the user's browser call the service: ``<img
src="http://127.0.0.1:8765/v1/resources?url=...">`` needs no script and, with ``--no-auth``, no
token. Browsers say where such a request comes from (``Sec-Fetch-Site``, ``Origin``): the
service refuses it on every endpoint, and programs, which send neither, are answered as before."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator

import pytest
import requests
from flask import Flask
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from ml_data.service import ServiceSettings, create_app
from ml_data.service.browsers import check_not_cross_site
from ml_data.service.errors import ApiError
from ml_data.signing import sign_resource
from tests.support.servers.http_files import FileServer
from tests.support.servers.processes import free_port, running

TOKEN = "cross-site-token"
KEY = "k" * 40
SECRET = b"the labelled data"
HOST = "127.0.0.1:8765"
#: What a browser sends for ``<img src=...>`` on another site's page (no Origin on such a GET).
IMG = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}
OTHER_SITES = [
    IMG,
    {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"},
    {"Sec-Fetch-Site": "CROSS-SITE"},
    {"Origin": "http://attacker.example"},
    {"Origin": "null"},  # a sandboxed frame, a file:// page
    {"Origin": "http://127.0.0.1:9999"},  # another port of the same machine is another site
    {"Origin": "http://localhost:8765"},  # another name is another origin
    {"Origin": "http://127.0.0.1:8765/x"},  # not an origin at all
    {"Origin": "http://127.0.0.1:8765", "Sec-Fetch-Site": "cross-site"},
]
OWN = [
    {},  # curl, requests, an ML backend, Label Studio's webhooks
    {"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate"},  # the address typed by the user
    {"Sec-Fetch-Site": "same-origin"},
    {"Origin": "http://127.0.0.1:8765", "Sec-Fetch-Site": "same-origin"},
    {"Origin": "HTTP://127.0.0.1:8765"},
]


@pytest.fixture
def origin() -> Iterator[FileServer]:
    with FileServer() as server:
        server.add("/x.jpg", body=SECRET, headers={"Content-Type": "image/jpeg"})
        yield server


@pytest.fixture
def make_app(settings, origin, tmp_path) -> Callable[..., Flask]:  # type: ignore[no-untyped-def]
    root = tmp_path / "files"
    root.mkdir()
    (root / "a.txt").write_bytes(SECRET)

    def make(**service) -> Flask:  # type: ignore[no-untyped-def]
        service.setdefault("allow", (origin.origin,))
        app = create_app(settings.with_changes(local_files_root=root), ServiceSettings(**service))
        app.testing = True
        return app

    return make


def _requests(origin: FileServer) -> list[tuple[str, str, object]]:
    """(method, path, JSON body) of every endpoint, each as an attacker's page would call it."""
    remote = requests.utils.quote(origin.url("/x.jpg"), safe="")
    return [
        ("get", f"/v1/resources?url={remote}", None),
        ("head", f"/v1/resources?url={remote}", None),
        ("get", "/v1/resources?url=/data/local-files/?d=a.txt", None),
        ("get", f"/v1/resources?url={remote}&as=path", None),
        ("get", "/healthz", None),
        ("get", "/v1/info", None),
        ("get", "/v1/openapi.json", None),
        ("get", "/v1/jobs/x", None),
        ("get", "/v1/projects/3/tasks", None),
        ("post", "/v1/prefetch", {"urls": [origin.url("/x.jpg")]}),
        ("post", "/v1/webhooks/label-studio", {"action": "TASKS_CREATED", "tasks": []}),
        ("post", "/v1/projects/3/datasets", {"format": "yolo"}),
        ("options", "/v1/prefetch", None),
    ]


@pytest.mark.parametrize("no_auth", [True, False], ids=["no-auth", "token"])
@pytest.mark.parametrize("browser", OTHER_SITES, ids=lambda headers: json.dumps(headers))
def test_another_sites_page_is_refused_everywhere(make_app, origin, no_auth, browser):
    """Regression: with --no-auth, ``<img src=".../v1/resources?url=...">`` on any web page made
    the service download the URL into its cache."""
    app = make_app(no_auth=True) if no_auth else make_app(token=TOKEN)
    client = app.test_client()
    auth = {} if no_auth else {"Authorization": f"Bearer {TOKEN}"}
    for method, path, body in _requests(origin):
        response = getattr(client, method)(path, json=body, headers={"Host": HOST, **auth, **browser})
        assert response.status_code == 403, (method, path)
        if method != "head":
            assert response.get_json()["error"] == "cross_site_request", path
            assert "another site" in response.get_json()["message"]
        assert SECRET not in response.data
    assert origin.requests == [] and len(app.extensions["ml_data.jobs"]) == 0


@pytest.mark.parametrize("no_auth", [True, False], ids=["no-auth", "token"])
@pytest.mark.parametrize("headers", OWN, ids=lambda headers: json.dumps(headers))
def test_programs_and_the_services_own_pages_are_answered(make_app, origin, no_auth, headers):
    app = make_app(no_auth=True) if no_auth else make_app(token=TOKEN)
    auth = {} if no_auth else {"Authorization": f"Bearer {TOKEN}"}
    client = app.test_client()
    for url in (origin.url("/x.jpg"), "/data/local-files/?d=a.txt"):
        response = client.get("/v1/resources", query_string={"url": url}, headers={"Host": HOST, **auth, **headers})
        assert response.status_code == 200 and response.data == SECRET, url
    started = client.post(
        "/v1/prefetch", json={"urls": ["data:text/plain,hi"]}, headers={"Host": HOST, **auth, **headers}
    )
    assert started.status_code == 202


def test_the_configured_public_url_is_the_services_own_origin(make_app):
    """Behind a proxy that names the service otherwise, ``ML_DATA_SERVICE_URL`` is its origin."""
    client = make_app(token=TOKEN, public_url="https://data.example.com/ml-data").test_client()
    headers = {"Host": "ml-data:8765", "Authorization": f"Bearer {TOKEN}"}
    assert client.get("/v1/info", headers={**headers, "Origin": "https://data.example.com"}).status_code == 200
    assert client.get("/v1/info", headers={**headers, "Origin": "https://data.example.com:443"}).status_code == 200
    assert client.get("/v1/info", headers={**headers, "Origin": "http://data.example.com"}).status_code == 403
    assert client.get("/v1/info", headers={**headers, "Origin": "https://evil.example.com"}).status_code == 403


def _signed(url: str, expires: int, key: str = KEY) -> str:
    signature = sign_resource(key, url, None, expires)
    return "/v1/resources?" + requests.compat.urlencode({"url": url, "expires": expires, "signature": signature})


@pytest.mark.parametrize("no_auth", [True, False], ids=["no-auth", "token"])
def test_a_valid_signed_link_may_be_shown_by_any_page(make_app, no_auth):
    """A link made by presign is a credential of its own, handed out to be opened; a page showing
    it as an image is a use of it. One that does not verify is refused, even with --no-auth."""
    app = make_app(no_auth=True, signing_key=KEY) if no_auth else make_app(token=TOKEN, signing_key=KEY)
    client = app.test_client()
    link = _signed("/data/local-files/?d=a.txt", int(time.time()) + 600)
    shown = client.get(link, headers={"Host": HOST, **IMG})
    assert shown.status_code == 200 and shown.data == SECRET
    forged = _signed("/data/local-files/?d=a.txt", int(time.time()) + 600, key="f" * 40)
    refused = client.get(forged, headers={"Host": HOST, **IMG})
    assert refused.status_code == 403 and SECRET not in refused.data
    unsigned_keyless = make_app(no_auth=True).test_client().get(link, headers={"Host": HOST, **IMG})
    assert unsigned_keyless.status_code == 403 and SECRET not in unsigned_keyless.data


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    site=st.none()
    | st.sampled_from(["cross-site", "same-site", "same-origin", "none", "Cross-Site"])
    | st.text(max_size=12),
    origin_header=st.none()
    | st.sampled_from(["null", "http://127.0.0.1:8765", "https://127.0.0.1:8765", "http://[::1]:8765"])
    | st.text(alphabet="htps:/.[]0123456789abclo@x-", max_size=30),
)
def test_what_passes_is_never_another_sites_page(site, origin_header):
    """Whatever the two headers hold, what passes says it is no other site's page."""
    headers = {"Host": HOST}
    if site is not None:
        headers["Sec-Fetch-Site"] = site
    if origin_header is not None:
        headers["Origin"] = origin_header
    try:
        check_not_cross_site(headers)
    except ApiError as exc:
        assert exc.status == 403 and exc.code == "cross_site_request"
        return
    assert (site or "").strip().lower() not in ("cross-site", "same-site")
    assert origin_header is None or origin_header.strip().lower() in ("http://127.0.0.1:8765", "https://127.0.0.1:8765")


def test_a_real_serve_process_refuses_an_image_tag_of_another_site(origin, tmp_path):
    """``ml-data serve --no-auth`` itself, reached as a browser reaches it."""
    port = free_port()
    env = {
        **os.environ,
        "ML_DATA_CACHE_DIR": str(tmp_path / "cache"),
        "ML_DATA_SERVICE_ALLOW": origin.origin,
        "HOME": str(tmp_path),
    }
    serve = [sys.executable, "-m", "ml_data.cli", "serve", "--no-auth", "--host", "127.0.0.1", "--port", str(port)]
    link = f"http://127.0.0.1:{port}/v1/resources?url={requests.utils.quote(origin.url('/x.jpg'), safe='')}"
    with running(serve, port, "ml-data serve", env=env):
        page = requests.get(link, headers={**IMG, "Referer": "http://attacker.example/"}, timeout=30)
        assert page.status_code == 403 and page.json()["error"] == "cross_site_request"
        posted = requests.post(
            f"http://127.0.0.1:{port}/v1/prefetch",
            json={"urls": [origin.url("/x.jpg")]},
            headers={"Origin": "http://attacker.example"},
            timeout=30,
        )
        assert posted.status_code == 403
        assert origin.requests == []
        program = requests.get(link, timeout=30)
        assert program.status_code == 200 and program.content == SECRET
