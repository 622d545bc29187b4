"""Google Cloud Storage: its hosts, its signature parameters, and its client
(google-cloud-storage, the ``[gcs]`` extra).

Credentials come from the SDK's standard environment (``GOOGLE_APPLICATION_CREDENTIALS``, gcloud's
application default credentials); ``STORAGE_EMULATOR_HOST`` points it at an emulator. The version
is the object's generation; the stored MD5 is checked.
"""

from __future__ import annotations

import base64
import datetime
import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ml_data.config import Settings
from ml_data.errors import IncompleteDownload, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from ml_data.resolvers.base import Announced
from ml_data.resolvers.clouds.base import CannotSign, http_date, status_error, translating
from ml_data.resolvers.registry import KIND_BY_SCHEME, missing_extra

if TYPE_CHECKING:
    from ml_data.resolvers.refs import CloudRef
    from ml_data.urls import HttpURL

SCHEME = "gs"

_PATH_HOSTS = ("storage.googleapis.com", "storage.cloud.google.com")
_VIRTUAL_SUFFIX = ".storage.googleapis.com"
# Query parameters that sign a URL rather than name a resource: V2 signing, and V4 (``X-Goog-*``).
_SIGNATURE_PARAMS = frozenset({"googleaccessid", "expires", "signature"})
_SIGNATURE_PREFIX = "x-goog-"


def object_at(target: HttpURL, path: str, endpoint: HttpURL | None) -> tuple[str, str] | None:
    """(bucket, key) of an https URL on GCS's hosts (path style, or virtual-hosted)."""
    if target.scheme != "https":
        return None
    if target.host in _PATH_HOSTS:
        bucket, _, key = path[1:].partition("/")
        return bucket, key
    if target.host.endswith(_VIRTUAL_SUFFIX):
        return target.host[: -len(_VIRTUAL_SUFFIX)], path[1:]
    return None


def signs(name: str, present: frozenset[str]) -> bool:
    return name in _SIGNATURE_PARAMS or name.startswith(_SIGNATURE_PREFIX)


@functools.lru_cache(maxsize=8)
def client(settings: Settings) -> Any:
    try:
        from google.cloud import storage
    except ImportError:
        raise missing_extra(KIND_BY_SCHEME[SCHEME], "google-cloud-storage") from None
    emulator = settings.cloud("STORAGE_EMULATOR_HOST")
    project = settings.cloud("GOOGLE_CLOUD_PROJECT")
    if emulator:
        from google.auth.credentials import AnonymousCredentials

        return storage.Client(
            project=project or "ml-data", credentials=AnonymousCredentials(), client_options={"api_endpoint": emulator}
        )
    credentials_file = settings.cloud("GOOGLE_APPLICATION_CREDENTIALS")
    if credentials_file:
        return storage.Client.from_service_account_json(credentials_file, project=project)
    return storage.Client(project=project)


@functools.lru_cache(maxsize=8)
def available(settings: Settings) -> bool:
    """True when google-cloud-storage is installed and an emulator or credentials are configured."""
    try:
        import google.auth
        from google.cloud import storage  # noqa: F401
    except ImportError:
        return False
    if settings.cloud("STORAGE_EMULATOR_HOST") or settings.cloud("GOOGLE_APPLICATION_CREDENTIALS"):
        return True
    try:
        google.auth.default()
    except Exception:  # noqa: BLE001 - google.auth raises DefaultCredentialsError and transport errors
        return False
    return True


def store(settings: Settings) -> GcsStore:
    return GcsStore(settings)


class GcsStore:
    def __init__(self, settings: Settings) -> None:
        self._client = client(settings)
        self._timeout = (settings.connect_timeout, settings.read_timeout)

    def _blob(self, ref: CloudRef, generation: int | None = None) -> Any:
        return self._client.bucket(ref.bucket).blob(ref.key, generation=generation)

    def head(self, ref: CloudRef) -> Announced:
        blob = self._blob(ref)
        # retry=None: the SDK would retry for two minutes; the caller retries a bounded number of times.
        _call(ref, blob.reload, timeout=self._timeout, retry=None)
        md5 = base64.b64decode(blob.md5_hash).hex() if blob.md5_hash else None
        return Announced(
            etag=str(blob.generation) if blob.generation is not None else None,
            size=blob.size,
            md5=md5,
            content_type=blob.content_type,
            last_modified=http_date(blob.updated),
        )

    def chunks(self, ref: CloudRef, announced: Announced) -> Iterator[bytes]:
        from ml_data.http import CHUNK_SIZE

        version = announced.etag
        generation = int(version) if version and version.isdigit() else None
        blob = self._blob(ref, generation)
        try:
            # Reads range by range: a failure leaves no file behind (the pending file is ours).
            with blob.open("rb", chunk_size=CHUNK_SIZE, timeout=self._timeout, retry=None) as handle:
                while chunk := handle.read(CHUNK_SIZE):
                    yield chunk
        except UpstreamError:
            raise
        except Exception as exc:  # noqa: BLE001 - translated into the typed errors below
            raise _translate(ref, exc) from None


def _translate(ref: CloudRef, exc: Exception) -> UpstreamError:
    from google.api_core import exceptions as api

    if isinstance(exc, api.GoogleAPICallError):
        return status_error(
            ref, type(exc).__name__, int(exc.code or 0), service="GCS", hint="the service account's roles"
        )
    name = type(exc).__name__
    if "Timeout" in name:
        return UpstreamTimeout(f"GCS timed out ({name})", url=ref.uri)
    if "Connection" in name:
        return UpstreamUnavailable(f"cannot reach GCS ({name})", url=ref.uri)
    return IncompleteDownload(f"the GCS transfer broke ({name})", url=ref.uri)


_call = translating(_translate)


def signed_url(settings: Settings, bucket: str, key: str, lifetime: int) -> str:
    """A V4 signed GET URL for ``gs://bucket/key``, valid ``lifetime`` seconds. GCS signs with a
    service account key (GOOGLE_APPLICATION_CREDENTIALS); on an emulator the URL names it."""

    from google.auth.credentials import Signing

    credentials = _service_account_key(settings)
    storage = client(settings)
    if credentials is None:
        credentials = getattr(storage, "_credentials", None)
    if not isinstance(credentials, Signing):
        raise CannotSign(
            "GCS signs URLs with a service account key: set GOOGLE_APPLICATION_CREDENTIALS to one (JSON key file)"
        )
    blob = storage.bucket(bucket).blob(key)
    endpoint = settings.cloud("STORAGE_EMULATOR_HOST") or None
    return str(
        blob.generate_signed_url(
            version="v4",
            expiration=datetime.timedelta(seconds=lifetime),
            method="GET",
            credentials=credentials,
            api_access_endpoint=endpoint,
        )
    )


def access_token(settings: Settings) -> tuple[str, datetime.datetime] | None:
    """A read-write access token of GOOGLE_APPLICATION_CREDENTIALS's service account and its
    expiry, for clients that read no key file (pyarrow's GCS file system); None without a key file
    or without google-auth."""
    path = settings.cloud("GOOGLE_APPLICATION_CREDENTIALS")
    if not path:
        return None
    try:
        import google.auth.transport.requests
        from google.oauth2 import service_account
    except ImportError:
        return None
    scopes = ["https://www.googleapis.com/auth/devstorage.read_write"]
    credentials = service_account.Credentials.from_service_account_file(path, scopes=scopes)
    credentials.refresh(google.auth.transport.requests.Request())
    return str(credentials.token), credentials.expiry.replace(tzinfo=datetime.timezone.utc)


def _service_account_key(settings: Settings) -> object | None:
    """The service account of GOOGLE_APPLICATION_CREDENTIALS, which can sign (None when not set)."""
    path = settings.cloud("GOOGLE_APPLICATION_CREDENTIALS")
    if not path:
        return None
    from google.oauth2 import service_account

    try:
        return service_account.Credentials.from_service_account_file(path)
    except (OSError, ValueError) as exc:
        raise CannotSign(
            f"GOOGLE_APPLICATION_CREDENTIALS is not a service account key ({type(exc).__name__})"
        ) from None
