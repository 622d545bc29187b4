"""The HTTP client against real loopback servers: timeouts, retries, typed errors, and above all
where credentials go."""

from __future__ import annotations

import logging
import socket

import pytest
import requests

from ml_data import errors
from ml_data.config import Settings
from ml_data.http import HttpClient, translate_exception
from ml_data.http_credentials import Origin
from ml_data.labelstudio import http_client
from ml_data.labelstudio.auth import LabelStudioAuth, is_personal_access_token, jwt_expiry
from tests.support.fake_label_studio import LEGACY_TOKEN, FakeLabelStudio
from tests.support.jwt_tokens import make_jwt
from tests.support.servers.http_files import FileServer


def client_for(settings: Settings, ls_url: str | None = None, token: str | None = None) -> HttpClient:
    return http_client(settings.with_changes(label_studio_url=ls_url, api_key=token))


def test_origin_compares_scheme_host_and_port():
    assert Origin.of("http://H:80/x") == Origin.of("http://h/y")
    assert Origin.of("https://h/x") != Origin.of("http://h/x")
    assert Origin.of("http://h:8080/") != Origin.of("http://h:8081/")
    assert Origin.of("http://127.0.0.1:8080") != Origin.of("http://127.0.0.2:8080")
    assert Origin.of("s3://b/k") is None
    assert Origin.of("http://h:notaport/") is None


def test_token_kinds_are_told_apart():
    assert is_personal_access_token(make_jwt("refresh"))
    assert not is_personal_access_token(LEGACY_TOKEN)
    assert not is_personal_access_token("a.b.c")
    assert jwt_expiry(make_jwt("access", lifetime=100)) is not None


def test_get_returns_body(file_server, settings):
    file_server.add("/x.bin", body=b"hello")
    response = client_for(settings).get(file_server.url("/x.bin"))
    assert b"".join(client_for(settings).iter_body(response, "u")) == b"hello"


def test_5xx_then_success_is_retried(file_server, settings):
    file_server.add("/flaky", body=b"ok", fail_times=2, fail_status=503)
    response = client_for(settings.with_changes(retries=2)).get(file_server.url("/flaky"))
    assert response.content == b"ok"
    assert file_server.gets("/flaky") == 3


def test_429_with_retry_after_is_retried(file_server, settings):
    file_server.add("/busy", body=b"ok", fail_times=1, fail_status=429, fail_headers={"Retry-After": "0"})
    assert client_for(settings).get(file_server.url("/busy")).content == b"ok"
    assert file_server.gets("/busy") == 2


def test_retries_are_bounded(file_server, settings):
    file_server.add("/down", body=b"never", fail_times=100, fail_status=502)
    with pytest.raises(errors.UpstreamHTTPError) as info:
        client_for(settings.with_changes(retries=2)).get(file_server.url("/down"))
    assert info.value.status_code == 502
    assert file_server.gets("/down") == 3


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, errors.AuthenticationFailed),
        (403, errors.AccessDenied),
        (404, errors.RemoteNotFound),
        (400, errors.UpstreamHTTPError),
    ],
)
def test_statuses_become_typed_errors(file_server, settings, status, error):
    file_server.add("/e", status=status, body=b"no")
    with pytest.raises(error) as info:
        client_for(settings).get(file_server.url("/e?token=SECRET"))
    assert info.value.status_code == status
    assert "SECRET" not in str(info.value)


def test_stalled_server_times_out(file_server, settings):
    file_server.add("/stall", body=b"late", stall_before=3.0)
    with pytest.raises(errors.UpstreamTimeout, match="timed out waiting for the server") as info:
        client_for(settings.with_changes(read_timeout=0.5)).get(file_server.url("/stall"))
    assert isinstance(info.value, TimeoutError)
    assert file_server.gets("/stall") == 1  # read timeouts are not retried


def test_stall_in_the_body_times_out(file_server, settings):
    file_server.add("/slow", body=b"x" * 1000, stall_after=(10, 3.0))
    client = client_for(settings.with_changes(read_timeout=0.5))
    response = client.get(file_server.url("/slow"))
    with pytest.raises(errors.UpstreamTimeout):
        b"".join(client.iter_body(response, file_server.url("/slow")))


def test_connection_refused_is_unavailable(settings):
    with FileServer() as server:
        url = server.url("/x")
    with pytest.raises(errors.UpstreamUnavailable) as info:
        client_for(settings.with_changes(retries=1)).get(url)
    assert isinstance(info.value, ConnectionError)


def test_a_refused_connection_says_so_and_its_retries_stay_quiet(settings, caplog):
    """Regression: urllib3 warned "Retrying (_BoundedRetry(...)) ... _PinnedHTTPConnection ...
    /x?token=..." before each retry, and the error then said only "NewConnectionError"."""
    with FileServer() as server:
        url = server.url("/x?token=SECRET")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(errors.UpstreamUnavailable, match="cannot reach the server: connection refused"):
        client_for(settings.with_changes(retries=2)).get(url)
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.INFO] == []
    retries = [r.getMessage() for r in caplog.records if r.name == "ml_data.http" and "retrying" in r.getMessage()]
    assert len(retries) == 2 and all("connection refused" in line for line in retries)
    assert not any("SECRET" in line for line in retries)


def test_another_librarys_retries_are_still_logged(caplog):
    """Only our pools' retry lines are taken out of urllib3's log."""
    from urllib3.util.retry import Retry

    caplog.set_level(logging.WARNING)
    logging.getLogger("urllib3.connectionpool").warning(
        "Retrying (%r) after connection broken by '%r': %s", Retry(3), OSError("x"), "/y"
    )
    assert [record.name for record in caplog.records] == ["urllib3.connectionpool"]


def test_an_unresolvable_name_says_so():
    """urllib3 (used when a proxy connects) wraps the resolver's error: the message still says why."""
    from urllib3.exceptions import MaxRetryError, NameResolutionError

    cause = NameResolutionError("nowhere.invalid", None, socket.gaierror(-2, "Name or service not known"))  # type: ignore[arg-type]
    wrapped = requests.ConnectionError(MaxRetryError(None, "/x?token=SECRET", cause))  # type: ignore[arg-type]
    error = translate_exception(wrapped, "http://nowhere.invalid/x?token=SECRET")
    assert isinstance(error, errors.UpstreamUnavailable)
    assert "name not resolved" in str(error) and "SECRET" not in str(error)


def test_redirect_loops_are_bounded(file_server, settings):
    file_server.add("/loop", redirect_to=file_server.url("/loop"))
    with pytest.raises(errors.TooManyRedirects):
        client_for(settings.with_changes(max_redirects=3)).get(file_server.url("/loop"))
    assert file_server.gets("/loop") == 4


def test_redirect_to_a_non_http_scheme_is_refused(file_server, settings):
    file_server.add("/to-file", redirect_to="file:///etc/passwd")
    with pytest.raises(errors.UnsupportedURL):
        client_for(settings).get(file_server.url("/to-file"))


# -- where the token goes ------------------------------------------------------------------------


def test_legacy_token_goes_to_the_label_studio_origin(file_server, settings):
    ls = FakeLabelStudio(file_server)
    ls.serve_file("/data/upload/1/x.jpg", b"img")
    client = client_for(settings, ls.url, LEGACY_TOKEN)
    assert client.get(file_server.url("/data/upload/1/x.jpg")).content == b"img"
    assert file_server.seen_authorization() == [f"Token {LEGACY_TOKEN}"]


def test_token_never_reaches_another_port(file_server, other_server, settings):
    other_server.add("/x.jpg", body=b"x")
    client = client_for(settings, file_server.origin, LEGACY_TOKEN)
    client.get(other_server.url("/x.jpg"))
    assert other_server.seen_authorization() == []


def test_token_never_reaches_another_loopback_address(file_server, settings):
    with FileServer(host="127.0.0.2", port=file_server.port) as twin:
        twin.add("/x.jpg", body=b"x")
        client = client_for(settings, file_server.origin, LEGACY_TOKEN)
        client.get(twin.url("/x.jpg"))
        assert len(twin.requests) == 1
        assert twin.seen_authorization() == []


def test_token_never_follows_a_redirect_to_another_origin(file_server, other_server, settings):
    other_server.add("/presigned.jpg", body=b"cloud")
    file_server.add("/tasks/1/resolve/", redirect_to=other_server.url("/presigned.jpg"), redirect_status=303)
    client = client_for(settings, file_server.origin, LEGACY_TOKEN)
    assert client.get(file_server.url("/tasks/1/resolve/?fileuri=x")).content == b"cloud"
    assert file_server.seen_authorization() == [f"Token {LEGACY_TOKEN}"]
    assert other_server.seen_authorization() == []


def test_token_is_not_sent_again_after_leaving_the_origin(file_server, other_server, settings):
    # A foreign server must not be able to bounce us back to Label Studio with our token.
    file_server.add("/data/upload/1/start", redirect_to=other_server.url("/bounce"))
    other_server.add("/bounce", redirect_to=file_server.url("/data/upload/1/back.jpg"))
    file_server.add("/data/upload/1/back.jpg", body=b"[]")
    client = client_for(settings, file_server.origin, LEGACY_TOKEN)
    client.get(file_server.url("/data/upload/1/start"))
    headers = [(r.path, r.headers.get("Authorization")) for r in file_server.requests]
    assert headers == [("/data/upload/1/start", f"Token {LEGACY_TOKEN}"), ("/data/upload/1/back.jpg", None)]


def test_token_not_sent_over_http_when_origin_is_https(file_server, settings):
    file_server.add("/x.jpg", body=b"x")
    https_origin = f"https://127.0.0.1:{file_server.port}"
    client = client_for(settings, https_origin, LEGACY_TOKEN)
    client.get(file_server.url("/x.jpg"))
    assert file_server.seen_authorization() == []


def test_no_token_for_a_lookalike_host(file_server, settings):
    file_server.add("/x.jpg", body=b"x")
    client = client_for(settings, f"http://127.0.0.1.evil.example:{file_server.port}", LEGACY_TOKEN)
    client.get(file_server.url("/x.jpg"))
    assert file_server.seen_authorization() == []


# -- personal access tokens ------------------------------------------------------------------------


def test_personal_access_token_is_exchanged_once_and_sent_as_bearer(file_server, settings):
    ls = FakeLabelStudio(file_server)
    ls.serve_file("/data/upload/1/a.jpg", b"a")
    client = client_for(settings, ls.url, ls.personal_access_token)
    for _ in range(3):
        assert client.get(file_server.url("/data/upload/1/a.jpg")).content == b"a"
    assert ls.refreshes == 1
    sent = [r for r in file_server.requests if r.path == "/data/upload/1/a.jpg"]
    assert all(r.headers["Authorization"].startswith("Bearer ") for r in sent)
    assert all(ls.personal_access_token not in r.headers["Authorization"] for r in sent)


def test_access_token_is_renewed_before_it_expires(file_server, settings):
    ls = FakeLabelStudio(file_server, access_lifetime=5.0)  # inside the renewal margin
    ls.serve_file("/data/upload/1/f.jpg", b"f")
    client = client_for(settings, ls.url, ls.personal_access_token)
    client.get(file_server.url("/data/upload/1/f.jpg"))
    client.get(file_server.url("/data/upload/1/f.jpg"))
    assert ls.refreshes == 2


def test_access_token_is_renewed_once_after_a_401(file_server, settings):
    ls = FakeLabelStudio(file_server)
    ls.serve_file("/data/upload/1/f.jpg", b"f")
    client = client_for(settings, ls.url, ls.personal_access_token)
    client.get(file_server.url("/data/upload/1/f.jpg"))
    ls.revoke_access_tokens()
    assert client.get(file_server.url("/data/upload/1/f.jpg")).content == b"f"
    assert ls.refreshes == 2


def test_rejected_personal_access_token_is_a_clear_error(file_server, settings):
    ls = FakeLabelStudio(file_server)
    ls.serve_file("/data/upload/1/f.jpg", b"f")
    client = client_for(settings, ls.url, make_jwt("refresh", serial=99))
    with pytest.raises(errors.AuthenticationFailed, match="personal access token"):
        client.get(file_server.url("/data/upload/1/f.jpg"))


def test_wrong_legacy_token_names_the_token_kind(file_server, settings):
    ls = FakeLabelStudio(file_server)
    ls.serve_file("/data/upload/1/f.jpg", b"f")
    client = client_for(settings, ls.url, "f" * 40)
    with pytest.raises(errors.AuthenticationFailed, match="legacy token") as info:
        client.get(file_server.url("/data/upload/1/f.jpg"))
    assert "f" * 40 not in str(info.value)


def test_a_client_made_without_credentials_sends_no_token(file_server, settings):
    """The transport builds no Label Studio credentials of its own: only the client made for Label
    Studio (labelstudio.http_client) carries the configured token."""
    ls = FakeLabelStudio(file_server)
    ls.serve_file("/data/upload/1/x.jpg", b"img")
    bare = HttpClient(settings.with_changes(label_studio_url=ls.url, api_key=LEGACY_TOKEN))
    assert bare.credentials is None
    with pytest.raises(errors.AuthenticationFailed):
        bare.get(file_server.url("/data/upload/1/x.jpg"))
    assert file_server.seen_authorization() == []


def test_the_token_refresh_connects_to_the_checked_address(file_server, settings):
    """The personal access token's exchange goes through the client: to the address its resolver
    gave (a name no DNS knows here), as every other request does."""
    ls = FakeLabelStudio(file_server)
    ls.serve_file("/data/upload/1/x.jpg", b"img")
    named = f"http://ls.test:{file_server.port}"
    resolved: list[str] = []

    def resolve(host: str, port: int) -> tuple[str, ...]:
        resolved.append(host)
        return ("127.0.0.1",)

    client = http_client(
        settings.with_changes(label_studio_url=named, api_key=ls.personal_access_token, retries=0),
        resolve_host=resolve,
    )
    assert client.get(f"{named}/data/upload/1/x.jpg").content == b"img"
    assert ls.refreshes == 1
    assert resolved == ["ls.test", "ls.test"]  # the file, then the refresh it needs


def test_the_token_refresh_passes_the_url_guard(file_server, settings):
    ls = FakeLabelStudio(file_server)
    ls.serve_file("/data/upload/1/x.jpg", b"img")
    seen: list[tuple[str, str]] = []

    def guard(target, addresses):  # type: ignore[no-untyped-def]
        seen.append((target.path, addresses))

    client = http_client(
        settings.with_changes(label_studio_url=ls.url, api_key=ls.personal_access_token), url_guard=guard
    )
    client.get(file_server.url("/data/upload/1/x.jpg"))
    # The file is checked first; the token it needs is then fetched, checked the same way.
    assert seen == [("/data/upload/1/x.jpg", ("127.0.0.1",)), ("/api/token/refresh/", ("127.0.0.1",))]


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_the_token_refresh_never_follows_a_redirect(file_server, other_server, settings, status):
    """The refresh token goes to the configured origin only: a redirect is a typed error, and its
    target never sees a request."""
    ls = FakeLabelStudio(file_server)
    ls.serve_file("/data/upload/1/x.jpg", b"img")
    file_server.add("/api/token/refresh/", redirect_to=other_server.url("/api/token/refresh/"), redirect_status=status)
    client = client_for(settings, ls.url, ls.personal_access_token)
    with pytest.raises(errors.UpstreamHTTPError, match="not followed") as info:
        client.get(file_server.url("/data/upload/1/x.jpg"))
    assert info.value.status_code == status
    assert other_server.requests == []
    assert [r.path for r in file_server.requests] == ["/api/token/refresh/"]


def test_a_refused_refresh_keeps_its_type_and_the_servers_answer(file_server, settings):
    ls = FakeLabelStudio(file_server)
    ls.serve_file("/data/upload/1/x.jpg", b"img")
    client = client_for(settings, ls.url, make_jwt("refresh", serial=99))
    with pytest.raises(errors.AuthenticationFailed, match="refused the personal access token") as info:
        client.get(file_server.url("/data/upload/1/x.jpg"))
    assert info.value.status_code == 401
    assert info.value.response is not None and info.value.response.json()["detail"] == "Token is invalid or expired"


def test_auth_only_applies_to_its_origin():
    auth = LabelStudioAuth("http://ls:8080/label-studio", LEGACY_TOKEN)
    assert auth.applies_to("http://ls:8080/data/upload/1/x.jpg")
    assert not auth.applies_to("http://ls:8081/data/upload/1/x.jpg")
    assert not auth.applies_to("https://ls:8080/x")
    assert not auth.applies_to("http://ls.evil:8080/x")


@pytest.mark.parametrize(
    "path",
    [
        "/label-studio/data/upload/1/x.jpg",
        "/data/upload/1/x.jpg",
        "/data/local-files/?d=a.jpg",
        "/storage-data/uploaded/?filepath=upload/1/x.jpg",
        "/tasks/7/resolve/?fileuri=czM6Ly9iL2s=",
        "/projects/3/presign/?fileuri=czM6Ly9iL2s=",
    ],
)
def test_the_token_goes_to_label_studio_resource_paths(path):
    auth = LabelStudioAuth("http://ls:8080/label-studio", LEGACY_TOKEN)
    assert auth.applies_to(f"http://ls:8080{path}")


@pytest.mark.parametrize(
    "path",
    [
        "/api/current-user/token",
        "/label-studio/api/current-user/token",
        "/api/projects/",
        "/user/account",
        "/data/upload/",
        "/tasks/7/",
        "/data/upload/1/%2e%2e/%2e%2e/api/current-user/token",
    ],
)
def test_the_token_never_goes_to_the_api_when_resolving(path):
    """Regression: /v1/resources?url=<label studio>/api/current-user/token returned the token."""
    auth = LabelStudioAuth("http://ls:8080/label-studio", LEGACY_TOKEN)
    assert not auth.applies_to(f"http://ls:8080{path}")
    if "%2e" not in path:
        assert auth.applies_to(f"http://ls:8080{path}", api=True)


def test_proxy_is_used_except_for_no_proxy_hosts(file_server, other_server, settings):
    # other_server stands in for the proxy: a proxied GET arrives with the absolute URL as path.
    other_server.add("http://example.invalid/x.jpg", body=b"via proxy")
    proxied = settings.with_changes(proxies=(("http", other_server.origin),), no_proxy="127.0.0.1")
    client = HttpClient(proxied)
    assert client.get("http://example.invalid/x.jpg").content == b"via proxy"
    file_server.add("/direct.jpg", body=b"direct")
    assert client.get(file_server.url("/direct.jpg")).content == b"direct"
    assert [r.path for r in other_server.requests] == ["http://example.invalid/x.jpg"]


def test_netrc_credentials_are_never_added(file_server, settings, monkeypatch, tmp_path):
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    file_server.add("/x.jpg", body=b"x")
    HttpClient(settings).get(file_server.url("/x.jpg"))
    assert file_server.seen_authorization() == []


def test_every_client_takes_its_session_from_the_factory(file_server, settings):
    """set_session_factory reaches single resolves, bulk resolves and the pipeline's clients."""
    from ml_data import resolve_many
    from ml_data.http import make_session, new_session, set_session_factory
    from ml_data.resolvers import Resolver

    made: list[int] = []

    def factory(settings, pool_maxsize):  # type: ignore[no-untyped-def]
        made.append(pool_maxsize)
        session = make_session(settings, pool_maxsize=pool_maxsize)
        session.headers["X-Custom"] = "yes"
        return session

    file_server.add("/a.bin", body=b"a")
    file_server.add("/b.bin", body=b"b")
    set_session_factory(factory)
    try:
        Resolver(settings).resolve(file_server.url("/a.bin"))
        resolve_many([file_server.url("/b.bin")], settings=settings, workers=40, progress=False)
        assert new_session(settings, pool_maxsize=3) is not None
    finally:
        set_session_factory(None)
    assert made == [32, 40, 3]
    assert all(request.headers.get("X-Custom") == "yes" for request in file_server.requests)
