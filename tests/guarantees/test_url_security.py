"""A hostile task against the URL layer: one reading of each URL from the check to the socket.

Each test is built on an input that once got through: a parser differential sending the token to
another port, a cloud identity claimed by any host, Label Studio's API read through the sidecar,
DNS rebinding between check and connect, a plain ``fileuri``, guards lost by resolver variants.
"""

from __future__ import annotations

import socket
import string

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from ml_data import Resolver, resolve_many
from ml_data.errors import MlDataError, UnsafeURL, UnsupportedURL, URLNotAllowed
from ml_data.http import HttpClient
from ml_data.http_pinned import resolve_host
from ml_data.service import ServiceSettings, create_app
from ml_data.service.guard import GuardedResolver, UrlGuard
from ml_data.urls import parse_http_url
from tests.support.fake_label_studio import LEGACY_TOKEN, FakeLabelStudio
from tests.support.servers.http_files import FileServer

TOKEN = "service-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def service_client(settings, allow):  # type: ignore[no-untyped-def]
    app = create_app(settings, ServiceSettings(token=TOKEN, allow=allow))
    app.testing = True
    return app.test_client()


# -- 1. parser differential ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.1:{b}\\@127.0.0.1:{a}/data/upload/1/x.jpg",
        "http://127.0.0.1:{b}\\\\@127.0.0.1:{a}/data/upload/1/x.jpg",
        "http://127.0.0.1:{b}@127.0.0.1:{a}/data/upload/1/x.jpg",
        "http://user:pw@127.0.0.1:{a}/data/upload/1/x.jpg",
        "http://127.0.0.1:{a}\t/data/upload/1/x.jpg",
        "http://127.0.0.1:{a}%2f@127.0.0.1:{b}/data/upload/1/x.jpg",
        "http://127.0.0.1:{a}/data/upload/1/%2e%2e/%2e%2e/api/current-user/token",
        "http://127.0.0.1:{a}/data/upload/1/../../api/current-user/token",
        "http://127.1:{a}/data/upload/1/x.jpg",
        "http://0x7f.0.0.1:{a}/data/upload/1/x.jpg",
        "http://2130706433:{a}/data/upload/1/x.jpg",
    ],
)
def test_urls_readable_two_ways_are_refused_and_reach_nobody(file_server, other_server, settings, template):
    """Regression: the token check read host A where urllib3 connected to B, which got the token."""
    ls = FakeLabelStudio(file_server)
    ls.serve_file("/data/upload/1/x.jpg", b"real")
    other_server.add("/data/upload/1/x.jpg", body=b"poison")
    resolver = Resolver(settings.with_changes(label_studio_url=ls.url, api_key=LEGACY_TOKEN))
    url = template.format(a=file_server.port, b=other_server.port)
    with pytest.raises(UnsupportedURL):
        resolver.resolve(url)
    assert other_server.requests == [] and other_server.connections == set()
    assert file_server.seen_authorization() == []
    assert resolver.cache.scan().entries == ()


def test_a_redirect_location_readable_two_ways_is_refused(file_server, other_server, settings):
    ls = FakeLabelStudio(file_server)
    location = f"http://127.0.0.1:{other_server.port}\\@127.0.0.1:{file_server.port}/data/upload/1/y.jpg"
    file_server.add("/data/upload/1/x.jpg", redirect_to=location)
    other_server.add("/data/upload/1/y.jpg", body=b"poison")
    resolver = Resolver(settings.with_changes(label_studio_url=ls.url, api_key=LEGACY_TOKEN))
    with pytest.raises(UnsafeURL, match="redirect"):
        resolver.resolve("/data/upload/1/x.jpg")
    assert other_server.requests == [] and other_server.connections == set()


_NOISE = ["\\", "@", "%40", "%5c", "%2f", ":", "#", "?", "/", " ", "\t", "\n", "＠", "。", "%", "[", "]", ".", "0x"]


@st.composite
def tricky_urls(draw: st.DrawFn, ports: tuple[int, int]) -> str:
    pieces = [
        draw(st.sampled_from(["http://", "HTTP://", "http:/", "http:\\\\", "https://"])),
        draw(st.sampled_from(["127.0.0.1", "localhost", "LOCALHOST", "127.000.000.001", "[::ffff:127.0.0.1]"])),
        draw(st.sampled_from(["", f":{ports[0]}", f":{ports[1]}", ":0", ":+80", f":{ports[0]}0"])),
        draw(st.sampled_from(["", *_NOISE])),
        draw(st.sampled_from(["", "127.0.0.1", f"127.0.0.1:{ports[1]}", f"@127.0.0.1:{ports[1]}"])),
        draw(st.sampled_from(["/x.jpg", "/a/../x.jpg", "/x.jpg?d=1", "", "?x", "#y"])),
        draw(st.text(alphabet=string.printable + "é\u200b", max_size=4)),
    ]
    order = draw(st.permutations(range(3, 7)))
    return "".join(pieces[:3] + [pieces[i] for i in order])


def _loopback_only(host: str, port: int) -> tuple[str, ...]:
    addresses = resolve_host(host, port)
    if not all(address in ("127.0.0.1", "::1") for address in addresses):
        raise OSError("tests connect to loopback only")
    return addresses


def test_the_approved_host_and_port_are_the_ones_connected(settings):
    """For generated URL strings: refused, or connected to exactly the host, port and address the
    guard approved."""
    with FileServer() as first, FileServer() as second:
        first.add("/x.jpg", body=b"1")
        second.add("/x.jpg", body=b"2")
        servers = {first.port: first, second.port: second}
        approved: list[tuple[int, tuple[str, ...] | None]] = []
        connected_examples = []

        def guard(target, addresses):  # type: ignore[no-untyped-def]
            approved.append((target.port, addresses))

        client = HttpClient(
            settings.with_changes(retries=0, connect_timeout=1.0), url_guard=guard, resolve_host=_loopback_only
        )

        @hypothesis_settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
        @given(url=tricky_urls((first.port, second.port)))
        def check(url: str) -> None:
            approved.clear()
            for server in servers.values():
                server.connections.clear()
            try:
                client.get(url).close()
            except MlDataError:
                pass
            connected = {port for port, server in servers.items() if server.connections}
            if not approved:
                assert connected == set(), url
                return
            ports = {port for port, _ in approved}
            assert connected <= ports, url
            if connected:
                connected_examples.append(url)
            for port, addresses in approved:
                assert addresses and set(addresses) <= {"127.0.0.1", "::1"}, url
                if port in connected:
                    hosts = {host for host, _ in servers[port].connections}
                    assert hosts <= set(addresses), url

        check()
        assert connected_examples, "no generated URL was connected: the property was not exercised"


# -- 2. cloud identity only from the cloud's endpoint ----------------------------------------------


def test_an_allowlisted_host_cannot_fill_a_buckets_cache_entry(file_server, settings):
    """Regression: an S3-looking URL on any allowed host was stored as s3://victim-bucket/..."""
    file_server.add("/victim-bucket/model.jpg", body=b"attacker bytes")
    client = service_client(settings, (file_server.origin, "s3://victim-bucket"))
    signed = "X-Amz-Credential=a%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=00"
    response = client.get(
        "/v1/resources", query_string={"url": file_server.url(f"/victim-bucket/model.jpg?{signed}")}, headers=AUTH
    )
    assert response.status_code == 200 and response.data == b"attacker bytes"
    resolver = Resolver(settings)
    assert resolver.cache.get("s3://victim-bucket/model.jpg") is None
    after = client.get("/v1/resources", query_string={"url": "s3://victim-bucket/model.jpg"}, headers=AUTH)
    assert after.data != b"attacker bytes"


# -- 3. Label Studio's API through the sidecar -----------------------------------------------------


@pytest.mark.parametrize("path", ["/api/current-user/token", "/api/projects/", "/user/account"])
def test_the_sidecar_never_fetches_label_studios_api(file_server, settings, path):
    """Regression: /v1/resources?url=<label studio>/api/current-user/token returned the token."""
    ls = FakeLabelStudio(file_server)
    file_server.add(path, body=b'{"token": "leaked"}')
    client = service_client(settings.with_changes(label_studio_url=ls.url, api_key=LEGACY_TOKEN), ())
    response = client.get("/v1/resources", query_string={"url": ls.url + path}, headers=AUTH)
    assert response.status_code == 403
    assert file_server.gets(path) == 0


def test_a_redirect_into_label_studios_api_is_refused(file_server, other_server, settings):
    ls = FakeLabelStudio(file_server)
    file_server.add("/api/current-user/token", body=b'{"token": "leaked"}')
    other_server.add("/x.jpg", redirect_to=ls.url + "/api/current-user/token")
    client = service_client(
        settings.with_changes(label_studio_url=ls.url, api_key=LEGACY_TOKEN), (other_server.origin,)
    )
    response = client.get("/v1/resources", query_string={"url": other_server.url("/x.jpg")}, headers=AUTH)
    assert response.status_code == 403
    assert file_server.gets("/api/current-user/token") == 0


def test_resolving_an_api_url_in_the_library_sends_no_token(file_server, settings):
    ls = FakeLabelStudio(file_server)
    file_server.add("/api/current-user/token", body=b"{}")
    resolver = Resolver(settings.with_changes(label_studio_url=ls.url, api_key=LEGACY_TOKEN))
    resolver.resolve(ls.url + "/api/current-user/token")
    assert file_server.seen_authorization() == []


# -- 4. DNS rebinding -------------------------------------------------------------------------------


def test_dns_rebinding_between_check_and_connect_reaches_nothing(settings, monkeypatch):
    """Regression: the guard resolved a name, urllib3 resolved it again and got another address."""
    with FileServer(host="127.0.0.2") as allowed:
        victim = FileServer(host="127.0.0.1", port=allowed.port).start()
        try:
            allowed.add("/x.jpg", body=b"public")
            victim.add("/x.jpg", body=b"internal")
            answers = iter(["127.0.0.2"] + ["127.0.0.1"] * 10)
            real_getaddrinfo = socket.getaddrinfo

            def rebinding(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
                if host == "rebind.test":
                    return real_getaddrinfo(next(answers), port, *args, **kwargs)
                return real_getaddrinfo(host, port, *args, **kwargs)

            monkeypatch.setattr(socket, "getaddrinfo", rebinding)
            origin = f"http://rebind.test:{allowed.port}"
            # Here "public" means 127.0.0.2: the test may only reach loopback addresses.
            guard = UrlGuard(settings, (origin,), address_allowed=lambda address: address == "127.0.0.2")
            resolver = GuardedResolver(settings, guard, http=HttpClient(settings, url_guard=guard.check_hop))
            assert resolver.resolve(f"{origin}/x.jpg").path.read_bytes() == b"public"
            assert victim.connections == set() and victim.requests == []
            # The next request resolves again and gets 127.0.0.1: refused before connecting.
            with pytest.raises(URLNotAllowed):
                resolver.refreshing().resolve(f"{origin}/x.jpg")
            assert victim.connections == set() and victim.requests == []
        finally:
            victim.stop()


# -- 12. plain fileuri ------------------------------------------------------------------------------


def test_a_plain_fileuri_is_fetched_through_label_studio(file_server, settings):
    """Regression: /tasks/1/resolve/?fileuri=s3://... raised LabelStudioNotConfigured."""
    ls = FakeLabelStudio(file_server)
    ls.serve_file("/tasks/1/resolve/", b"object bytes")
    resolver = Resolver(settings.with_changes(label_studio_url=ls.url, api_key=LEGACY_TOKEN))
    local = resolver.resolve("/tasks/1/resolve/?fileuri=s3://bucket/k.jpg")
    assert local.path.read_bytes() == b"object bytes" and local.kind == "s3"
    assert file_server.seen_authorization() == [f"Token {LEGACY_TOKEN}"]


# -- 13. guards survive -----------------------------------------------------------------------------


def test_resolver_variants_keep_their_guard(file_server, other_server, settings):
    guard = UrlGuard(settings, (file_server.origin,))
    resolver = GuardedResolver(settings, guard, http=HttpClient(settings, url_guard=guard.check_hop))
    other_server.add("/x.jpg", body=b"x")
    for variant in (resolver.refreshing(), resolver.without_downloads()):
        assert type(variant) is GuardedResolver
        with pytest.raises(URLNotAllowed):
            variant.resolve(other_server.url("/x.jpg"))
    result = resolve_many([other_server.url("/x.jpg")], resolver=resolver, refresh=True, progress=False)
    assert isinstance(next(iter(result.errors.values())), URLNotAllowed)
    assert other_server.requests == []


def test_cloud_sdk_fetches_pass_the_same_allow_decision(settings):
    guard = UrlGuard(settings, ("s3://allowed-bucket",))
    resolver = GuardedResolver(settings, guard)
    with pytest.raises(URLNotAllowed):
        resolver.resolve("s3://other-bucket/k.jpg", task_id=1)
    with pytest.raises(URLNotAllowed):
        resolver.refreshing().resolve("gs://other-bucket/k.jpg")


def test_parse_http_url_normalises_once():
    url = parse_http_url("HTTP://Example.COM:80/a b/é.jpg?q=1 2#frag")
    assert str(url) == "http://example.com/a%20b/%C3%A9.jpg?q=1%202"
    assert url.origin == ("http", "example.com", 80)
    assert parse_http_url("http://[::1]:8080/").netloc == "[::1]:8080"
