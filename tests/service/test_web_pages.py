"""What a web page the user happens to open can do to the service: reach it under a name it
controls (DNS rebinding), post to it without asking (CSRF), or have a task's file run as a page of
the service's origin. Each test is the attack, and the service must refuse it."""

from __future__ import annotations

import ipaddress
import json
import string
from collections.abc import Callable

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from ml_data import ConfigurationError
from ml_data.service import ServiceSettings, create_app
from ml_data.service.files import is_inline, served_type
from ml_data.service.hosts import HostPolicy

TOKEN = "web-page-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SECRET = b"the labelled data"


@pytest.fixture
def files(tmp_path):  # type: ignore[no-untyped-def]
    root = tmp_path / "files"
    root.mkdir()
    (root / "a.txt").write_bytes(SECRET)
    return root


@pytest.fixture
def make_app(settings, files) -> Callable[..., Flask]:  # type: ignore[no-untyped-def]
    def make(**service) -> Flask:  # type: ignore[no-untyped-def]
        app = create_app(settings.with_changes(local_files_root=files), ServiceSettings(**service))
        app.testing = True
        return app

    return make


LOCAL = "/v1/resources?url=/data/local-files/?d=a.txt"

# -- DNS rebinding -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "attacker.rebind.example",
        "attacker.rebind.example:8765",
        "127.0.0.1.nip.io:8765",  # a name that resolves to loopback is still a name the attacker owns
        "localhost.attacker.example",
        "localhost.",
        "2130706433:8765",  # 127.0.0.1 as one number: not how a browser writes the address
        "127.1",
        "[::ffff:127.0.0.1]:8765",
        "0.0.0.0:8765",
        "10.0.0.5",
        "localhost:8765@attacker.example",
        "localhost:8765/x",
        "localhost:99999",
        "",
    ],
)
def test_without_a_token_other_names_are_refused(make_app, host):
    """Regression: with --no-auth, ``Host: attacker.rebind.example`` got a Local Files file back."""
    client = make_app(no_auth=True).test_client()
    for method, path in [("get", LOCAL), ("get", "/v1/info"), ("get", "/healthz")]:
        response = getattr(client, method)(path, headers={"Host": host})
        assert response.status_code == 400, (host, path)
        assert response.get_json()["error"] in ("host_not_allowed", "bad_host")
        assert SECRET not in response.data


@pytest.mark.parametrize(
    "host", ["127.0.0.1:8765", "127.0.0.1", "127.3.4.5:80", "[::1]:8765", "[::1]", "localhost:8765", "LOCALHOST"]
)
def test_without_a_token_loopback_names_are_answered(make_app, host):
    response = make_app(no_auth=True).test_client().get(LOCAL, headers={"Host": host})
    assert response.status_code == 200 and response.data == SECRET


def test_configured_names_are_answered_too(make_app):
    client = make_app(no_auth=True, allowed_hosts=("ml-data.internal", "box.lan:8765")).test_client()
    assert client.get(LOCAL, headers={"Host": "ml-data.internal:9000"}).data == SECRET
    assert client.get(LOCAL, headers={"Host": "box.lan:8765"}).data == SECRET
    assert client.get(LOCAL, headers={"Host": "box.lan:8766"}).status_code == 400
    assert client.get(LOCAL, headers={"Host": "attacker.example"}).status_code == 400


def test_with_a_token_any_name_unless_names_are_configured(make_app):
    open_names = make_app(token=TOKEN).test_client()
    assert open_names.get(LOCAL, headers={**AUTH, "Host": "ml-data:8765"}).data == SECRET
    assert open_names.get(LOCAL, headers={**AUTH, "Host": "ml-data:8765/x?"}).status_code == 400
    listed = make_app(token=TOKEN, allowed_hosts=("ml-data",)).test_client()
    assert listed.get(LOCAL, headers={**AUTH, "Host": "ml-data:8765"}).data == SECRET
    assert listed.get(LOCAL, headers={**AUTH, "Host": "localhost:8765"}).data == SECRET
    refused = listed.get(LOCAL, headers={**AUTH, "Host": "other"})
    assert refused.status_code == 400 and refused.get_json()["error"] == "host_not_allowed"


@pytest.mark.parametrize("entry", ["", "a b", "http://x", "x/y", "x:0", "[::1", "x:port"])
def test_a_configured_name_that_is_not_one_is_refused_at_start(entry):
    with pytest.raises(ConfigurationError, match="ML_DATA_SERVICE_ALLOWED_HOSTS"):
        ServiceSettings(no_auth=True, allowed_hosts=(entry,))


_NO_AUTH = HostPolicy.create(no_auth=True, allowed_hosts=())


@hypothesis_settings(max_examples=500, deadline=None)
@given(st.text(alphabet=string.ascii_letters + string.digits + ".-_:[]@/%", max_size=40))
def test_no_host_but_a_loopback_literal_or_localhost_passes(header):
    """Whatever the header, what the check lets through is a loopback address or localhost."""
    try:
        host = _NO_AUTH.check(header, "http")
    except Exception as exc:  # noqa: BLE001 - the refusal is the expected outcome for most
        assert getattr(exc, "status", None) == 400
        return
    assert host is not None
    assert host.host == "localhost" or ipaddress.ip_address(host.host).is_loopback


@hypothesis_settings(max_examples=200, deadline=None)
@given(
    st.ip_addresses(v=4, network="127.0.0.0/8") | st.just(ipaddress.ip_address("::1")),
    st.none() | st.integers(1, 65535),
)
def test_every_loopback_literal_passes(address, port):
    literal = f"[{address}]" if address.version == 6 else str(address)
    header = literal if port is None else f"{literal}:{port}"
    host = _NO_AUTH.check(header, "http")
    assert host is not None and ipaddress.ip_address(host.host) == address


def test_a_request_without_a_host_header_is_not_a_browser(make_app):
    """HTTP/1.0 clients may send no Host; browsers always do, so this is no rebinding."""
    client = make_app(no_auth=True).test_client()
    response = client.get(LOCAL, environ_overrides={"HTTP_HOST": None})
    assert response.status_code == 200 and response.data == SECRET


# -- cross-site posts ---------------------------------------------------------------------------

POSTS = [
    ("/v1/prefetch", {"urls": ["data:text/plain,hi"]}),
    ("/v1/webhooks/label-studio", {"action": "TASKS_CREATED", "tasks": [{"id": 1, "data": {"image": "x"}}]}),
    ("/v1/projects/3/datasets", {"format": "yolo"}),
]


@pytest.mark.parametrize("no_auth", [True, False])
@pytest.mark.parametrize(("path", "body"), POSTS)
@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data"],
)
def test_a_post_that_is_not_json_starts_nothing(make_app, file_server, no_auth, path, body, content_type):
    """Regression: a cross-site ``text/plain`` POST to /v1/prefetch started a job (browsers send
    those types without asking the service first)."""
    file_server.add("/x.jpg", body=b"x")
    body = json.loads(json.dumps(body).replace('"data:text/plain,hi"', json.dumps(file_server.url("/x.jpg"))))
    app = make_app(no_auth=True) if no_auth else make_app(token=TOKEN, allow=(file_server.origin,))
    headers = {} if no_auth else dict(AUTH)
    if content_type:
        headers["Content-Type"] = content_type
    response = app.test_client().post(path, data=json.dumps(body), headers=headers)
    assert response.status_code == 415
    assert response.get_json()["error"] == "unsupported_media_type"
    assert len(app.extensions["ml_data.jobs"]) == 0 and file_server.requests == []


def test_json_with_a_charset_is_json(make_app):
    app = make_app(no_auth=True)
    response = app.test_client().post(
        "/v1/prefetch",
        data=json.dumps({"urls": ["data:text/plain,hi"]}),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 202 and len(app.extensions["ml_data.jobs"]) == 1


def test_the_token_is_asked_for_before_the_body_type(make_app):
    response = make_app(token=TOKEN).test_client().post("/v1/prefetch", data="x")
    assert response.status_code == 401


# -- files that would run -----------------------------------------------------------------------

ACTIVE = {
    "page.html": ("text/html", b"<script>fetch('/v1/info')</script>"),
    "page.xhtml": ("application/xhtml+xml", b'<html xmlns="http://www.w3.org/1999/xhtml"><script/></html>'),
    "drawing.svg": ("image/svg+xml", b'<svg xmlns="http://www.w3.org/2000/svg"><script>1</script></svg>'),
    "feed.xml": ("application/xml", b"<x/>"),
    "old.xml": ("text/xml", b"<x/>"),
    "code.js": ("text/javascript", b"alert(1)"),
    "paper.pdf": ("application/pdf", b"%PDF-1.4"),
    "blob.weird": ("application/x-made-up", b"<html><script>1</script>"),
}
PASSIVE = {
    "photo.jpg": ("image/jpeg", b"\xff\xd8\xff"),
    "sound.wav": ("audio/wav", b"RIFF"),
    "clip.mp4": ("video/mp4", b"\x00\x00\x00\x18ftyp"),
    "words.txt": ("text/plain", b"<html><script>1</script>"),  # nosniff: shown as text
}


def _served(make_app, file_server, name, content_type, body):  # type: ignore[no-untyped-def]
    """The file as a task's URL answers it: the upstream says what type it is."""
    file_server.add(f"/{name}", body=body, headers={"Content-Type": content_type})
    client = make_app(token=TOKEN, allow=(file_server.origin,)).test_client()
    response = client.get("/v1/resources", query_string={"url": file_server.url(f"/{name}")}, headers=AUTH)
    assert response.status_code == 200 and response.data == body
    assert response.mimetype == content_type
    return response


@pytest.mark.parametrize("name", sorted(ACTIVE))
def test_a_file_a_browser_would_run_is_an_attachment_in_a_sandbox(make_app, file_server, name):
    """Regression: an HTML file of a task was served inline, as a page of the service's origin."""
    response = _served(make_app, file_server, name, *ACTIVE[name])
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "sandbox"


@pytest.mark.parametrize("name", sorted(PASSIVE))
def test_media_and_text_stay_inline_without_sniffing(make_app, file_server, name):
    response = _served(make_app, file_server, name, *PASSIVE[name])
    assert response.headers["Content-Disposition"].startswith("inline")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "sandbox"


def test_a_local_html_file_is_an_attachment_too(make_app, files):
    """Files served in place go through the same headers."""
    (files / "page.html").write_bytes(b"<script>1</script>")
    client = make_app(no_auth=True).test_client()
    response = client.get("/v1/resources?url=/data/local-files/?d=page.html")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "sandbox"


def test_every_answer_says_nosniff(make_app):
    client = make_app(token=TOKEN).test_client()
    for response in (client.get("/healthz"), client.get("/v1/info"), client.get("/v1/jobs/x", headers=AUTH)):
        assert response.headers["X-Content-Type-Options"] == "nosniff"


@given(st.text(max_size=60))
def test_no_content_type_is_inline_unless_it_is_plainly_media_or_text(content_type):
    served = served_type(content_type)
    if not is_inline(served):
        return
    essence = served.split(";", 1)[0].strip().lower()
    family = essence.split("/", 1)[0]
    assert family in ("image", "audio", "video") or essence in (
        "text/plain",
        "text/csv",
        "text/tab-separated-values",
        "application/json",
    )
    assert "xml" not in essence and "svg" not in essence and "html" not in essence and "\n" not in served


@pytest.mark.parametrize(
    "content_type", ["image/svg+xml", "IMAGE/SVG+XML; charset=utf-8", "text/html", "image/png\r\nX-Evil: 1", "", None]
)
def test_odd_types_are_never_inline(content_type):
    assert not is_inline(served_type(content_type))
