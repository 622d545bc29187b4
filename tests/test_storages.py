"""Objects of any storage Label Studio knows (``b2://bucket/key``...), read through its
``/tasks/<id>/resolve/`` endpoint.

The suite's real Label Studio (1.23.2) resolves only the storages configured in the task's
project, found by scheme and bucket: it has no ``b2://`` storage (newer versions do), and no way
to add a storage of another scheme. So the endpoint is played here by the fake Label Studio,
answering as ``label_studio/io_storages/proxy_api.py`` does (a 303 to a presigned URL on the
storage's endpoint, a loopback file server, or the bytes proxied); ``test_label_studio_storages``
checks the same link against the real one.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qsl, urlsplit

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from ml_data import LabelStudioNotConfigured, MissingTaskId, RemoteNotFound, Resolver, Settings
from ml_data.cli import main
from ml_data.errors import MlDataError, UnsafePath, UnsupportedURL, URLNotAllowed
from ml_data.labelstudio import http_client
from ml_data.labelstudio.paths import is_token_path
from ml_data.labelstudio.storages import NOT_STORAGE
from ml_data.pipeline.tasks import task_resources
from ml_data.resolvers.clouds import PROVIDERS
from ml_data.resolvers.parse import parse_ref
from ml_data.resolvers.refs import CloudRef, Ref
from ml_data.resolvers.registry import STORAGE_KIND
from ml_data.service.guard import GuardedResolver, UrlGuard
from ml_data.urls import HttpURL, parse_http_url
from tests.fake_label_studio import LEGACY_TOKEN, FakeLabelStudio, FakeStorage
from tests.servers.http_files import FileServer

BODY = bytes(range(256)) * 1024
URI = "b2://bucket/cats/1 a+b.jpg"


def b64(uri: str) -> str:
    return base64.urlsafe_b64encode(uri.encode()).decode()


@pytest.fixture
def ls(file_server: FileServer) -> FakeLabelStudio:
    return FakeLabelStudio(file_server)


@pytest.fixture
def ls_resolver(ls: FakeLabelStudio, settings) -> Resolver:  # type: ignore[no-untyped-def]
    return Resolver(settings.with_changes(label_studio_url=ls.url, api_key=LEGACY_TOKEN))


@pytest.fixture
def b2(ls: FakeLabelStudio, other_server: FileServer) -> FakeStorage:
    """A B2 storage of the project holding task 7, presigning links to its own endpoint."""
    storage = FakeStorage("b2", "bucket", presigned=other_server)
    storage.put("cats/1 a+b.jpg", BODY)
    ls.add_storage(storage, task_ids=[7])
    return storage


def resolve_requests(server: FileServer) -> list[str]:
    return [request.path for request in server.requests if request.path.startswith("/tasks/")]


def test_a_b2_object_is_read_through_label_studio_with_the_token_going_only_there(
    ls, ls_resolver, b2, file_server, other_server
):
    """Regression: b2://bucket/key raised UnsupportedURL ('b2' was no scheme ml-data knew)."""
    local = ls_resolver.resolve(URI, task_id=7)
    assert local.path.read_bytes() == BODY and local.kind == "storage"
    # The link Label Studio gives its frontend for the object: urlsafe base64 of the URI, padded.
    assert resolve_requests(file_server) == [f"/tasks/7/resolve/?fileuri={b64(URI)}"]
    # The token went to Label Studio; the storage's endpoint saw none (it would have refused it).
    assert file_server.seen_authorization() == [f"Token {LEGACY_TOKEN}"]
    assert other_server.seen_authorization() == []
    assert [request.status for request in other_server.requests] == [200]
    # Cached under the storage's identity, whichever signed URL delivered it.
    assert ls_resolver.cache.get(URI).path == local.path
    assert ls_resolver.cache.get(URI).kind == "storage"


def test_a_second_resolve_is_a_cache_hit_and_the_resolve_link_shares_the_entry(ls_resolver, b2, file_server):
    first = ls_resolver.resolve(URI, task_id=7)
    again = ls_resolver.resolve(URI, task_id=7)
    link = ls_resolver.resolve(f"/tasks/7/resolve/?fileuri={b64(URI)}")
    absolute = ls_resolver.resolve(f"{file_server.origin}/tasks/7/resolve/?fileuri={b64(URI)}")
    assert first.path == again.path == link.path == absolute.path
    assert file_server.gets("/tasks/7/resolve/") == 1


def test_after_the_ttl_the_object_is_revalidated_through_label_studio(ls, settings, b2, file_server, other_server):
    resolver = Resolver(settings.with_changes(label_studio_url=ls.url, api_key=LEGACY_TOKEN, cache_ttl=0))
    first = resolver.resolve(URI, task_id=7)
    # Past the TTL: Label Studio is asked again (a new signed URL), the endpoint answers 304 to the
    # entry's ETag, and the entry is kept without a byte of body.
    again = resolver.resolve(URI, task_id=7)
    assert again.path == first.path and again.path.read_bytes() == BODY
    revalidation = other_server.requests[-1]
    assert revalidation.headers.get("If-None-Match") == b2.etag("cats/1 a+b.jpg") and revalidation.status == 304
    assert "Authorization" not in revalidation.headers
    # The object is overwritten under its name: the next revalidation brings the new bytes.
    b2.put("cats/1 a+b.jpg", b"new version")
    assert resolver.resolve(URI, task_id=7).path.read_bytes() == b"new version"
    assert resolver.cache.get(URI).etag == b2.etag("cats/1 a+b.jpg")
    assert file_server.gets("/tasks/7/resolve/") == 3 and other_server.seen_authorization() == []


def test_a_storage_that_proxies_its_bytes_through_label_studio(ls, ls_resolver, settings, file_server):
    """presign=False: Label Studio streams the object itself, with its own ETag for revalidation."""
    storage = FakeStorage("b2", "private", objects={"x.png": b"png bytes"})
    ls.add_storage(storage, task_ids=[8])
    local = ls_resolver.resolve("b2://private/x.png", task_id=8)
    assert local.path.read_bytes() == b"png bytes" and local.content_type == "image/png"
    stale = Resolver(ls_resolver.settings.with_changes(cache_ttl=0))
    assert stale.resolve("b2://private/x.png", task_id=8).path == local.path
    last = file_server.requests[-1]
    assert last.status == 304 and last.headers["If-None-Match"] == ls_resolver.cache.get("b2://private/x.png").etag


def test_without_a_task_id_the_error_says_how_to_pass_one(ls_resolver, b2, file_server):
    uri = "b2://bucket/cats/1.jpg?X-Amz-Signature=secret"
    with pytest.raises(MissingTaskId) as info:
        ls_resolver.resolve(uri)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "b2:// objects are read through Label Studio" in message
    assert "task_id=" in message and "--task-id" in message and "task's id" in message
    assert "url b2://bucket/cats/1.jpg?X-Amz-Signature=***" in message  # named, signature redacted
    assert "ml-data[" not in message  # no SDK to suggest for b2
    assert file_server.requests == []


def test_without_label_studio_configured_the_error_names_the_settings(settings):
    with pytest.raises(LabelStudioNotConfigured, match="LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY") as info:
        Resolver(settings).resolve(URI, task_id=7)
    assert info.value.url == URI and "ml-data[" not in str(info.value)


def test_a_uri_no_storage_of_the_project_knows_is_not_found(ls_resolver, b2):
    """Label Studio answers 404 for a scheme or bucket none of the project's storages has; for a
    missing object of one it has, the storage's endpoint does."""
    for uri in ("b2://other-bucket/cats/1 a+b.jpg", "wasabi://bucket/cats/1 a+b.jpg", "b2://bucket/missing.jpg"):
        with pytest.raises(RemoteNotFound) as info:
            ls_resolver.resolve(uri, task_id=7)
        assert info.value.task_id == 7 and uri in str(info.value)
        assert ls_resolver.cache.get(uri) is None


def test_a_secret_in_a_storage_uri_is_masked_in_errors_even_inside_the_base64_link(ls_resolver, b2):
    """Regression: the error named Label Studio's link, whose base64 fileuri held the URI's token."""
    uri = "b2://other/x.jpg?token=S3CRETVALUE"
    with pytest.raises(RemoteNotFound) as info:
        ls_resolver.resolve(uri, task_id=7)
    text = str(info.value)
    assert "S3CRETVALUE" not in text and b64(uri).rstrip("=") not in text
    assert "b2://other/x.jpg?token=***" in text
    fileuri = dict(parse_qsl(urlsplit(info.value.url or "").query))["fileuri"]
    assert base64.urlsafe_b64decode(fileuri).decode() == "b2://other/x.jpg?token=***"


def test_the_service_reads_a_storage_object_through_label_studio_and_its_redirect_is_still_checked(
    ls, settings, b2, other_server
):
    """The service's guard lets a b2:// object through to Label Studio (the only way it is read);
    the redirect to the storage's endpoint is checked like any connection."""
    configured = settings.with_changes(label_studio_url=ls.url, api_key=LEGACY_TOKEN)

    def service_resolver(*allow: str) -> Resolver:
        guard = UrlGuard(configured, allow)
        return GuardedResolver(configured, guard, http=http_client(configured, url_guard=guard.check_hop))

    with pytest.raises(URLNotAllowed, match="not allowed"):
        service_resolver().resolve(URI, task_id=7)
    assert other_server.requests == []
    assert service_resolver(other_server.origin).resolve(URI, task_id=7).path.read_bytes() == BODY
    ls.add_storage(FakeStorage("b2", "private", objects={"x.png": b"png"}), task_ids=[8])
    assert service_resolver().resolve("b2://private/x.png", task_id=8).path.read_bytes() == b"png"


def test_the_scheme_is_sent_in_lower_case_as_label_studio_writes_it(ls_resolver, b2, file_server):
    """Label Studio matches a storage's scheme case-sensitively; a URI scheme is case-insensitive."""
    local = ls_resolver.resolve("B2://bucket/cats/1 a+b.jpg", task_id=7)
    assert local.path.read_bytes() == BODY
    (path,) = resolve_requests(file_server)
    fileuri = dict(part.split("=", 1) for part in urlsplit(path).query.split("&"))["fileuri"]
    assert base64.urlsafe_b64decode(fileuri).decode() == URI


@pytest.mark.parametrize(
    "url",
    [
        "b2://user:secret@bucket/x.jpg",  # a login, not a bucket
        "b2://bucket:443/x.jpg",
        "b2://bucket/",
        "b2:///x.jpg",
        "ftp://host/x.jpg",  # network protocols and the web's own stay refused
        "javascript://x/%0aalert(1)",
        "ws://host/x",
    ],
)
def test_what_is_no_storage_object_is_refused_before_any_request(url, ls_resolver, file_server):
    with pytest.raises(ValueError) as info:  # UnsupportedURL
        parse_ref(url)
    assert "secret" not in str(info.value)
    with pytest.raises(ValueError):
        ls_resolver.resolve(url, task_id=7)
    assert file_server.requests == []


# -- any scheme: a Ref or a typed error, and the token only ever to Label Studio ------------------

LABEL_STUDIO = "http://127.0.0.1:8080/label-studio"

_SCHEMES = st.one_of(
    st.from_regex(r"[A-Za-z][A-Za-z0-9+.\-]{0,10}", fullmatch=True),
    st.sampled_from(sorted({*PROVIDERS, *NOT_STORAGE, "b2", "B2", "HTTP", "File", "S3", "a", "c", "1a", ""})),
    st.text(max_size=6),
)
_PARTS = st.one_of(
    st.text(max_size=16),
    st.sampled_from(
        [
            "bucket",
            "u:p@h",
            "h:80",
            "127.0.0.1:8080",
            "[::1]",
            "%2e%2e",
            "..",
            "?q=1",
            "#f",
            "label-studio/tasks/1/resolve/?fileuri=YjI6Ly9iL2s=",
            "data/upload/1/x.jpg",
            "x.jpg?X-Amz-Signature=s",
        ]
    ),
)
#: ``<scheme>://<x>/<y>`` with any scheme, x and y
storage_shaped = st.builds(lambda scheme, x, y: f"{scheme}://{x}/{y}", _SCHEMES, _PARTS, _PARTS)


@pytest.fixture
def recording(tmp_path):  # type: ignore[no-untyped-def]
    """A resolver configured for Label Studio whose HTTP client records each request it would
    send (the URL, and whether the token would go with it) and refuses it before connecting;
    host names resolve to a documentation address, never through DNS."""
    settings = Settings(cache_dir=tmp_path / "cache", label_studio_url=LABEL_STUDIO, api_key=LEGACY_TOKEN)
    client = http_client(settings, resolve_host=lambda host, port: ("192.0.2.1",))
    hops: list[tuple[HttpURL, bool]] = []

    def guard(target: HttpURL, addresses: tuple[str, ...] | None) -> None:
        assert client.credentials is not None
        hops.append((target, client.credentials.applies_to(target)))
        raise URLNotAllowed("recorded, not sent", url=str(target))

    client.url_guard = guard
    return Resolver(settings, http=client), hops


@given(url=storage_shaped, task_id=st.one_of(st.none(), st.integers(1, 2**31)))
@example(url="b2://bucket/a b.jpg", task_id=7)
@example(url="B2://bucket/k", task_id=None)
@example(url="b2://127.0.0.1:8080/label-studio/data/upload/1/x.jpg", task_id=3)
@hypothesis_settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_scheme_is_a_ref_or_a_typed_error_and_the_token_goes_only_to_label_studio(recording, url, task_id):
    resolver, hops = recording
    hops.clear()
    try:
        ref: Ref | None = parse_ref(url, label_studio_url=LABEL_STUDIO)
    except (UnsupportedURL, UnsafePath) as exc:
        assert isinstance(exc, ValueError)
        ref = None
    try:
        resolver.resolve(url, task_id=task_id)
    except MlDataError:
        pass  # typed; anything else fails the test
    origin = parse_http_url(LABEL_STUDIO).origin
    for target, with_token in hops:
        if with_token:
            assert target.origin == origin and is_token_path(target.path, prefix="/label-studio"), target
    if isinstance(ref, CloudRef) and ref.kind == STORAGE_KIND:
        # No client of its own: its identity is its URI, and the only request ever made for it is
        # Label Studio's resolve link for that URI, with the token.
        assert ref.scheme not in NOT_STORAGE and ref.identity == ref.uri == f"{ref.scheme}://{ref.bucket}/{ref.key}"
        if ref.via == "uri":
            if task_id is None:
                assert hops == []
            else:
                ((target, with_token),) = hops
                assert with_token and target.path == f"/label-studio/tasks/{task_id}/resolve/"
                (fileuri,) = [value for name, value in parse_qsl(target.query) if name == "fileuri"]
                assert base64.urlsafe_b64decode(fileuri).decode() == ref.uri


def test_a_tasks_file_with_storage_uris_is_resolved_with_each_tasks_id(ls, b2, file_server, tmp_path):
    """Regression: without a labeling config, b2:// values did not look like files at all (left
    out as text): ``ml-data resolve --tasks`` skipped them, datasets had no media for them."""
    assert task_resources({"image": URI, "text": "a note: see x://y", "link": "ftp://h/x.jpg"}, None) == [URI]
    tasks = [{"id": 7, "data": {"image": URI}}, {"id": 9, "data": {"image": URI}}]
    export = tmp_path / "tasks.json"
    export.write_text(json.dumps(tasks), encoding="utf-8")
    env = {"LABEL_STUDIO_URL": ls.url, "LABEL_STUDIO_API_KEY": LEGACY_TOKEN, "ML_DATA_CACHE_DIR": str(tmp_path / "c")}
    result = CliRunner().invoke(main, ["resolve", "--json", "--tasks", str(export)], env=env)
    first, second = [json.loads(line) for line in result.stdout.splitlines()]
    assert first["task_id"] == 7 and first["kind"] == "storage" and first["size"] == len(BODY)
    # Task 9 names the same object: the same identity, read from the cache (Label Studio, which
    # has no task 9 here, is not asked).
    assert second["task_id"] == 9 and second["path"] == first["path"] and result.exit_code == 0
    assert file_server.gets("/tasks/7/resolve/") == 1 and file_server.gets("/tasks/9/resolve/") == 0
