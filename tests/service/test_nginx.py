"""nginx in front of the service with the shipped config (docker/nginx/ml-data.conf.template): the
service authenticates and resolves, nginx sends the bytes through X-Accel-Redirect. A real nginx
(Debian's package, installed by scripts/test.sh) and a real ``ml-data serve`` process on loopback."""

from __future__ import annotations

import hashlib
import os
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from ml_data.service import ServiceSettings, create_app
from tests.support.servers.http_files import FileServer
from tests.support.servers.nginx import ACCEL_LOCATION, nginx_binary, nginx_in_front
from tests.support.servers.processes import free_port, running

TOKEN = "nginx-front-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BODY = os.urandom(300_000)
NAME = "ml-data.test"
PAGE = b"<script>fetch('/v1/info').then(r => r.text()).then(alert)</script>"


@dataclass
class Front:
    nginx: str
    service: str
    cache_dir: Path
    nginx_port: int


@pytest.fixture(scope="module")
def origin() -> Iterator[FileServer]:
    with FileServer() as server:
        server.add("/photos/cat%20%C3%A9.jpg", body=BODY, headers={"Content-Type": "image/jpeg"})
        server.add("/page.html", body=PAGE, headers={"Content-Type": "text/html"})
        yield server


@pytest.fixture(scope="module")
def front(origin: FileServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Front]:
    if nginx_binary() is None:
        pytest.skip("nginx is not installed (scripts/test.sh installs Debian's nginx-light)")
    work = tmp_path_factory.mktemp("nginx-front")
    cache_dir = work / "cache"
    service_port, nginx_port = free_port(), free_port()
    env = {
        **os.environ,
        "ML_DATA_CACHE_DIR": str(cache_dir),
        "ML_DATA_SERVICE_TOKEN": TOKEN,
        "ML_DATA_SERVICE_ALLOW": origin.origin,
        "ML_DATA_ACCEL_REDIRECT": ACCEL_LOCATION,
        # A name only a client that kept the port (nginx's listening one) gets through with.
        "ML_DATA_SERVICE_ALLOWED_HOSTS": f"{NAME}:{nginx_port}",
    }
    serve = [sys.executable, "-m", "ml_data.cli", "serve", "--host", "127.0.0.1", "--port", str(service_port)]
    with (
        running(serve, service_port, "ml-data serve", env=env),
        nginx_in_front(work, listen_port=nginx_port, service_port=service_port, cache_dir=cache_dir) as nginx,
    ):
        yield Front(nginx, f"http://127.0.0.1:{service_port}", cache_dir, nginx_port)


def resource(front: Front, origin: FileServer, path: str = "/photos/cat%20%C3%A9.jpg") -> str:
    return f"{front.nginx}/v1/resources?url={requests.utils.quote(origin.url(path), safe='')}"


def test_the_bytes_come_from_nginx_and_are_the_files(front, origin):
    answer = requests.get(resource(front, origin), headers=AUTH, timeout=30)
    assert answer.status_code == 200 and answer.content == BODY
    assert hashlib.sha256(answer.content).hexdigest() == hashlib.sha256(BODY).hexdigest()
    assert answer.headers["Content-Type"] == "image/jpeg"
    assert answer.headers["Server"].startswith("nginx")
    assert "X-Accel-Redirect" not in answer.headers  # nginx consumed it
    assert "filename*=UTF-8''cat%20%C3%A9.jpg" in answer.headers["Content-Disposition"]
    # Behind nginx, the service itself answers with the redirect and no body.
    direct = requests.get(resource(front, origin).replace(front.nginx, front.service), headers=AUTH, timeout=30)
    assert direct.status_code == 200 and direct.content == b""
    assert direct.headers["X-Accel-Redirect"].startswith(ACCEL_LOCATION + "objects/")
    assert origin.gets("/photos/cat%20%C3%A9.jpg") == 1  # downloaded once, then a cache hit


def test_the_token_is_checked_before_nginx_sends_anything(front, origin):
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        answer = requests.get(resource(front, origin), headers=headers, timeout=30)
        assert answer.status_code == 401 and BODY[:100] not in answer.content
        assert answer.json()["error"] == "unauthorized"


def test_the_internal_location_is_not_reachable_from_outside(front, origin):
    requests.get(resource(front, origin), headers=AUTH, timeout=30).raise_for_status()
    target = requests.get(resource(front, origin).replace(front.nginx, front.service), headers=AUTH, timeout=30)
    internal = target.headers["X-Accel-Redirect"]
    for headers in ({}, AUTH):
        assert requests.get(front.nginx + internal, headers=headers, timeout=30).status_code == 404


def test_the_services_file_headers_survive_the_redirect(front, origin):
    """nginx answers X-Accel-Redirect with headers of its own: the ones that keep a file from
    running as a page of this origin must still reach the browser."""
    image = requests.get(resource(front, origin), headers=AUTH, timeout=30)
    assert image.headers["X-Content-Type-Options"] == "nosniff"
    assert image.headers["Content-Security-Policy"] == "sandbox"
    assert image.headers["Content-Disposition"].startswith("inline")
    page = requests.get(resource(front, origin, "/page.html"), headers=AUTH, timeout=30)
    assert page.status_code == 200 and page.content == PAGE and page.headers["Server"].startswith("nginx")
    assert page.headers["Content-Type"].startswith("text/html")
    assert page.headers["Content-Disposition"].startswith("attachment")
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Content-Security-Policy"] == "sandbox"
    for headers in ({**AUTH, "Range": "bytes=0-9"}, {**AUTH, "If-None-Match": page.headers["ETag"]}):
        again = requests.get(resource(front, origin, "/page.html"), headers=headers, timeout=30)
        assert again.status_code in (206, 304)
        assert again.headers["X-Content-Type-Options"] == "nosniff"
        assert again.headers["Content-Security-Policy"] == "sandbox"


def test_the_host_reaches_the_service_with_its_port(front, origin):
    """Regression: nginx passed ``Host`` without its port (``$host``), so the service checked, and
    built its links from, a name the client never used: ``ml-data.test:PORT`` arrived as
    ``ml-data.test`` (port 80) and was refused."""
    listed = requests.get(resource(front, origin), headers={**AUTH, "Host": f"{NAME}:{front.nginx_port}"}, timeout=30)
    assert listed.status_code == 200 and listed.content == BODY
    other_port = requests.get(resource(front, origin), headers={**AUTH, "Host": f"{NAME}:1"}, timeout=30)
    assert other_port.status_code == 400 and other_port.json()["error"] == "host_not_allowed"
    assert f"{NAME}:1" in other_port.json()["message"]
    bare = requests.get(resource(front, origin), headers={**AUTH, "Host": NAME}, timeout=30)
    assert bare.status_code == 400 and bare.json()["error"] == "host_not_allowed"
    # An HTTP/1.0 client that sends no Host is still answered.
    with socket.create_connection(("127.0.0.1", front.nginx_port), timeout=30) as sock:
        sock.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]


def test_range_etag_and_not_modified_through_nginx(front, origin):
    url = resource(front, origin)
    part = requests.get(url, headers={**AUTH, "Range": "bytes=1000-1999"}, timeout=30)
    assert part.status_code == 206 and part.content == BODY[1000:2000]
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(BODY)}"
    whole = requests.get(url, headers=AUTH, timeout=30)
    etag = whole.headers["ETag"]
    again = requests.get(url, headers={**AUTH, "If-None-Match": etag}, timeout=30)
    assert again.status_code == 304 and again.content == b""
    changed = requests.get(url, headers={**AUTH, "If-None-Match": '"something-else"'}, timeout=30)
    assert changed.status_code == 200 and changed.content == BODY


def test_errors_pass_through_as_the_services_json(front, origin):
    missing = requests.get(resource(front, origin, "/photos/missing.jpg"), headers=AUTH, timeout=30)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    refused = requests.get(
        f"{front.nginx}/v1/resources?url={requests.utils.quote('http://127.0.0.1:1/x.jpg', safe='')}",
        headers=AUTH,
        timeout=30,
    )
    assert refused.status_code == 403  # the SSRF guard still decides, nginx only sends files


def test_without_the_setting_the_service_sends_files_itself(settings, origin, tmp_path):
    """Files served in place (outside the cache) and services without ML_DATA_ACCEL_REDIRECT use send_file."""
    plain = create_app(settings, ServiceSettings(token=TOKEN, allow=(origin.origin,))).test_client()
    answer = plain.get(
        f"/v1/resources?url={requests.utils.quote(origin.url('/photos/cat%20%C3%A9.jpg'))}", headers=AUTH
    )
    assert answer.status_code == 200 and answer.data == BODY and "X-Accel-Redirect" not in answer.headers
    local = tmp_path / "in-place.txt"
    local.write_bytes(b"served in place")
    accelerated = create_app(
        settings.with_changes(extra_local_roots=(tmp_path,)),
        ServiceSettings(token=TOKEN, allow=(origin.origin,), accel_redirect="/_ml_data_cache"),
    ).test_client()
    in_place = accelerated.get(f"/v1/resources?url={requests.utils.quote(str(local))}", headers=AUTH)
    assert in_place.status_code == 200 and in_place.data == b"served in place"
    assert "X-Accel-Redirect" not in in_place.headers


@pytest.mark.parametrize("location", ["cache", "/a b/", "/x?y", "/%2e%2e/", "/é/"])
def test_a_location_that_is_not_a_plain_path_is_refused(location):
    from ml_data import ConfigurationError

    with pytest.raises(ConfigurationError, match="ML_DATA_ACCEL_REDIRECT"):
        ServiceSettings(token=TOKEN, accel_redirect=location)
