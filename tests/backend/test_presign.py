"""Links for remote services: ``presign`` gives a URL that opens the resource with no other
credential, for a limited time. Clouds on their emulators (moto, fake-gcs-server, Azurite), Label
Studio's presign redirect on a loopback fake, and the sidecar's own signed /v1/resources links."""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from ml_data import ConfigurationError, Settings, presign
from ml_data.config import cloud_environment
from ml_data.service import ServiceSettings, create_app
from ml_data.signing import MAX_LIFETIME, sign_resource, signature_matches
from tests.support.fake_label_studio import LEGACY_TOKEN, FakeLabelStudio
from tests.support.servers.http_files import FileServer

KEY = "k" * 40
BEARER = "service-token-0123456789"


def _plain_get(url: str) -> requests.Response:
    """A GET with no credential of any kind: what a remote service has."""
    assert urlsplit(url).hostname == "127.0.0.1", url
    return requests.get(url, timeout=10)


# -- clouds ------------------------------------------------------------------------------------


def test_s3_presigned_url_downloads_the_object(s3_settings):
    import boto3

    bucket = f"bucket-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_settings.s3_endpoint_url)
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="scans/page 1.png", Body=b"\x89PNG page one")
    link = presign(f"s3://{bucket}/scans/page 1.png", expires=120, settings=s3_settings)
    query = dict(parse_qsl(urlsplit(link).query))
    assert query["X-Amz-Expires"] == "120" and "X-Amz-Signature" in query
    assert _plain_get(link).content == b"\x89PNG page one"


def _service_account_key(path) -> str:  # type: ignore[no-untyped-def]
    """A throwaway service account key file (the emulator accepts any; signing needs one)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    email = "ml-data-test@example-project.iam.gserviceaccount.com"
    info = {
        "type": "service_account",
        "project_id": "example-project",
        "private_key_id": "0" * 40,
        "private_key": pem,
        "client_email": email,
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    path.write_text(json.dumps(info))
    return email


def test_gcs_signed_url_downloads_the_object(gcs_endpoint, monkeypatch, settings, tmp_path):
    """fake-gcs-server does not check signatures: this proves the V4 URL names the object on the
    configured endpoint and is signed by the key's account, not that a forged one is refused."""
    from google.cloud import storage

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_endpoint)
    bucket = f"bucket-{uuid.uuid4().hex[:12]}"
    client = storage.Client()
    client.create_bucket(bucket)
    client.bucket(bucket).blob("scans/page-1.png").upload_from_string(b"gcs page one")
    email = _service_account_key(tmp_path / "key.json")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "key.json"))
    link = presign(
        f"gs://{bucket}/scans/page-1.png", expires=300, settings=settings.with_changes(cloud_env=cloud_environment())
    )
    query = dict(parse_qsl(urlsplit(link).query))
    assert link.startswith(f"{gcs_endpoint}/{bucket}/scans/page-1.png?")
    assert query["X-Goog-Algorithm"] == "GOOG4-RSA-SHA256" and query["X-Goog-Expires"] == "300"
    assert query["X-Goog-Credential"].startswith(email + "/") and len(query["X-Goog-Signature"]) == 512
    assert _plain_get(link).content == b"gcs page one"


def test_gcs_without_a_key_cannot_sign_and_says_so(gcs_endpoint, monkeypatch, settings):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_endpoint)
    with pytest.raises(ConfigurationError, match="service account key") as caught:
        presign("gs://bucket/x.png", settings=settings.with_changes(cloud_env=cloud_environment()))
    assert "ML_DATA_SERVICE_URL" in str(caught.value)


def test_azure_sas_downloads_the_blob_and_a_changed_byte_is_refused(azurite_connection_string, monkeypatch, settings):
    from azure.storage.blob import BlobServiceClient

    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite_connection_string)
    service = BlobServiceClient.from_connection_string(azurite_connection_string)
    container = f"container-{uuid.uuid4().hex[:12]}"
    service.create_container(container)
    service.get_blob_client(container, "scans/page 1.png").upload_blob(b"azure page one")
    link = presign(
        f"azure-blob://{container}/scans/page 1.png", settings=settings.with_changes(cloud_env=cloud_environment())
    )
    query = dict(parse_qsl(urlsplit(link).query))
    assert query["sp"] == "r" and "sig" in query  # read only
    assert _plain_get(link).content == b"azure page one"
    # Azurite checks SAS signatures: the link opens that blob only, unchanged.
    other = link.replace("page%201.png", "page%202.png")
    assert other != link and _plain_get(other).status_code == 403
    forged = link.replace("sp=r", "sp=rw")
    assert forged != link and _plain_get(forged).status_code == 403


# -- Label Studio's presign redirect ---------------------------------------------------------------


@pytest.fixture
def fake_label_studio():  # type: ignore[no-untyped-def]
    with FileServer() as server:
        yield FakeLabelStudio(server)


def test_without_cloud_credentials_label_studios_presigned_url_is_given(s3_endpoint, fake_label_studio, tmp_path):
    """Label Studio answers /tasks/<id>/presign/ with a redirect to a URL its storage signed; that
    URL is what the remote service gets (never the link to Label Studio, which needs its token)."""
    import boto3

    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
    storage = boto3.client("s3", endpoint_url=s3_endpoint, **credentials)
    bucket = f"bucket-{uuid.uuid4().hex[:12]}"
    storage.create_bucket(Bucket=bucket)
    storage.put_object(Bucket=bucket, Key="x.png", Body=b"through label studio")
    signed = storage.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "x.png"}, ExpiresIn=60)
    seen = []

    def presign_view(request):  # type: ignore[no-untyped-def]
        seen.append(request)
        if not fake_label_studio.authorized(request):
            return 401, {}, b""
        return 303, {"Location": signed}, b""

    fake_label_studio.server.add("/tasks/7/presign/", handler=presign_view)
    settings = Settings(label_studio_url=fake_label_studio.url, api_key=LEGACY_TOKEN, cache_dir=tmp_path)
    link = presign(f"s3://{bucket}/x.png", task_id=7, settings=settings)
    assert link == signed and _plain_get(link).content == b"through label studio"
    asked = dict(parse_qsl(urlsplit(seen[0].path).query))
    assert asked["fileuri"] == "czM6Ly9" + asked["fileuri"][7:] and len(seen) == 1  # base64 of s3://...


def test_a_storage_label_studio_proxies_gets_a_sidecar_link_or_a_clear_error(fake_label_studio, tmp_path):
    fake_label_studio.server.add("/tasks/7/presign/", handler=lambda request: (200, {}, b"the bytes themselves"))
    settings = Settings(label_studio_url=fake_label_studio.url, api_key=LEGACY_TOKEN, cache_dir=tmp_path)
    with pytest.raises(ConfigurationError) as caught:
        presign("s3://bucket/x.png", task_id=7, settings=settings)
    message = str(caught.value)
    assert "no S3 credentials" in message and "serves S3 files" in message and "ML_DATA_SIGNING_KEY" in message
    sidecar = settings.with_changes(service_url="http://127.0.0.1:8765", signing_key=KEY)
    link = presign("s3://bucket/x.png", task_id=7, settings=sidecar)
    assert link.startswith("http://127.0.0.1:8765/v1/resources?url=s3%3A%2F%2Fbucket%2Fx.png&task_id=7&expires=")


# -- the sidecar's signed links -----------------------------------------------------------------------


@pytest.fixture
def sidecar(tmp_path):  # type: ignore[no-untyped-def]
    """The service with a Local Files root holding two files, and settings to sign links for it."""
    root = tmp_path / "files"
    (root / "scans").mkdir(parents=True)
    (root / "scans" / "a.png").write_bytes(b"first file")
    (root / "scans" / "b.png").write_bytes(b"second file")
    settings = Settings(
        cache_dir=tmp_path / "cache",
        local_files_root=root,
        service_url="http://127.0.0.1:8765/",
        signing_key=KEY,
    )
    service = ServiceSettings(token=BEARER, signing_key=KEY)
    assert KEY not in repr(settings) and KEY not in repr(service)  # a secret, never printed
    return create_app(settings, service).test_client(), settings


def _get(client, link: str):  # type: ignore[no-untyped-def]
    parts = urlsplit(link)
    return client.get(f"{parts.path}?{parts.query}", headers={"Host": "127.0.0.1:8765"})


def test_a_signed_link_opens_its_resource_without_the_token(sidecar):
    client, settings = sidecar
    link = presign("/data/local-files/?d=scans/a.png", task_id=12, settings=settings)
    assert link.startswith("http://127.0.0.1:8765/v1/resources?")
    answer = _get(client, link)
    assert answer.status_code == 200 and answer.data == b"first file"
    unsigned = client.get("/v1/resources?url=/data/local-files/?d=scans/a.png", headers={"Host": "127.0.0.1:8765"})
    assert unsigned.status_code == 401  # the token is still needed without a signature


def _with(link: str, **changes: str) -> str:
    parts = urlsplit(link)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return f"{parts.path}?{urlencode(query)}"


def test_a_signed_link_opens_only_its_resource_task_and_bytes(sidecar):
    client, settings = sidecar
    link = presign("/data/local-files/?d=scans/a.png", task_id=12, settings=settings)
    refused = [
        _with(link, url="/data/local-files/?d=scans/b.png"),  # another file
        _with(link, task_id="13"),  # another task
        _with(link, expires=str(int(dict(parse_qsl(urlsplit(link).query))["expires"]) + 3600)),  # longer
        link + "&as=path",  # not only the bytes: the server's path
        link + "&url=/data/local-files/?d=scans/b.png",  # a second url
    ]
    for tampered in refused:
        answer = _get(client, tampered)
        assert answer.status_code == 403, tampered
        assert b"second file" not in answer.data and b"/files/" not in answer.data


def test_a_changed_byte_anywhere_in_the_signature_is_refused(sidecar):
    client, settings = sidecar
    link = presign("/data/local-files/?d=scans/a.png", task_id=12, settings=settings)
    signature = dict(parse_qsl(urlsplit(link).query))["signature"]
    for position in range(len(signature)):
        changed = signature[:position] + ("0" if signature[position] != "0" else "1") + signature[position + 1 :]
        assert _get(client, _with(link, signature=changed)).status_code == 403


def test_a_link_works_only_until_it_expires(sidecar):
    client, settings = sidecar
    past = time.time() - 3600
    expired = presign("/data/local-files/?d=scans/a.png", task_id=12, expires=600, settings=settings, now=past)
    answer = _get(client, expired)
    assert answer.status_code == 403 and b"expired" in answer.data
    # A link claiming to live longer than any link may is refused even when its signature is good.
    far = int(time.time()) + MAX_LIFETIME + 3600
    url = "/data/local-files/?d=scans/a.png"
    forever = (
        f"/v1/resources?{urlencode({'url': url, 'expires': far, 'signature': sign_resource(KEY, url, None, far)})}"
    )
    assert _get(client, forever).status_code == 403


def test_a_service_without_the_key_refuses_signed_links(tmp_path):
    settings = Settings(cache_dir=tmp_path / "cache", service_url="http://127.0.0.1:8765", signing_key=KEY)
    client = create_app(settings, ServiceSettings(token=BEARER)).test_client()
    link = presign("/data/upload/3/x.png", settings=settings)
    assert _get(client, link).status_code == 403
    other_key = create_app(settings, ServiceSettings(token=BEARER, signing_key="o" * 40)).test_client()
    assert _get(other_key, link).status_code == 403


def test_links_need_the_service_url_and_key_and_https_beyond_loopback(tmp_path):
    with pytest.raises(ConfigurationError, match="ML_DATA_SERVICE_URL"):
        presign("/data/upload/3/x.png", settings=Settings(cache_dir=tmp_path))
    public_http = Settings(cache_dir=tmp_path, service_url="http://data.example.com", signing_key=KEY)
    with pytest.raises(ConfigurationError, match="https"):
        presign("/data/upload/3/x.png", settings=public_http)
    https = public_http.with_changes(service_url="https://data.example.com/ml-data/")
    assert presign("/data/upload/3/x.png", settings=https).startswith("https://data.example.com/ml-data/v1/resources?")
    for bad in (0, -5, MAX_LIFETIME + 1, True, 1.5):
        with pytest.raises(ConfigurationError, match="expires"):
            presign("/data/upload/3/x.png", expires=bad, settings=https)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="32"):
        Settings.from_env({"ML_DATA_SIGNING_KEY": "short"})
    assert presign("data:text/plain,hi", settings=Settings(cache_dir=tmp_path)) == "data:text/plain,hi"


_TEXT = st.text(st.characters(codec="utf-8"), max_size=40)


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    url=_TEXT,
    task=st.none() | st.integers(0, 2**40),
    expires=st.integers(0, 2**34),
    other=st.tuples(_TEXT, st.none() | st.integers(0, 2**40), st.integers(0, 2**34)),
)
def test_a_signature_fits_only_the_link_it_was_made_for(url, task, expires, other):
    signature = sign_resource(KEY, url, task, expires)
    assert signature_matches(KEY, url, task, expires, signature)
    if other != (url, task, expires):
        assert not signature_matches(KEY, *other, signature)
    assert not signature_matches("x" * 40, url, task, expires, signature)


def test_a_changed_character_anywhere_in_the_link_never_opens_something_else(sidecar):
    """Every position of the query, changed: refused (401 when no signature is left), or (when the
    change decodes to the very same parameters, e.g. %2F -> %2f) the same file."""
    client, settings = sidecar
    link = presign("/data/local-files/?d=scans/a.png", task_id=12, settings=settings)
    path, query = urlsplit(link).path, urlsplit(link).query
    original = parse_qsl(query, keep_blank_values=True)
    for position, char in enumerate(query):
        for replacement in {"b", "0", "&", "=", "%"} - {char}:
            changed = query[:position] + replacement + query[position + 1 :]
            answer = client.get(f"{path}?{changed}", headers={"Host": "127.0.0.1:8765"})
            if answer.status_code == 200:
                assert parse_qsl(changed, keep_blank_values=True) == original, changed
                assert answer.data == b"first file"
            else:
                assert answer.status_code in (400, 401, 403), (changed, answer.status_code)
