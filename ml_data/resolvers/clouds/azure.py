"""Azure Blob Storage (``azure-blob://container/blob``): its hosts, its signature (SAS)
parameters, and its client (azure-storage-blob, the ``[azure]`` extra).

Credentials come from the SDK's usual variables, read once into the Settings:
``AZURE_STORAGE_CONNECTION_STRING``, or ``AZURE_STORAGE_ACCOUNT`` with ``AZURE_STORAGE_KEY`` (the
names Label Studio's Azure storage uses too). The version is the ETag; the stored Content-MD5 is
checked when the blob has one.
"""

from __future__ import annotations

import functools
import re
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

SCHEME = "azure-blob"

_HOST = re.compile(r"^[a-z0-9]+\.blob\.core\.windows\.net$")
# A shared access signature's parameters. Some are common words (``sp``, ``se``, ``sr``), so they
# count as a signature only in a query that carries one (``sig``).
_SAS_PARAMS = frozenset(
    {
        "sv",
        "ss",
        "srt",
        "sp",
        "se",
        "st",
        "spr",
        "sig",
        "sr",
        "si",
        "sip",
        "skoid",
        "sktid",
        "skt",
        "ske",
        "sks",
        "skv",
        "saoid",
        "suoid",
        "scid",
        "sdd",
        "ses",
    }
)


def object_at(target: HttpURL, path: str, endpoint: HttpURL | None) -> tuple[str, str] | None:
    """(container, blob) of an https URL on a storage account's blob host."""
    if target.scheme != "https" or not _HOST.match(target.host):
        return None
    container, _, blob = path[1:].partition("/")
    return container, blob


def signs(name: str, present: frozenset[str]) -> bool:
    return "sig" in present and name in _SAS_PARAMS


@functools.lru_cache(maxsize=8)
def client(settings: Settings) -> Any:
    try:
        from azure.storage.blob import BlobServiceClient
    except ImportError:
        raise missing_extra(KIND_BY_SCHEME[SCHEME], "azure-storage-blob") from None
    options: dict[str, Any] = {
        "connection_timeout": settings.connect_timeout,
        "read_timeout": settings.read_timeout,
        "retry_total": settings.retries,
    }
    connection_string = settings.cloud("AZURE_STORAGE_CONNECTION_STRING")
    if connection_string:
        return BlobServiceClient.from_connection_string(connection_string, **options)
    account = settings.cloud("AZURE_STORAGE_ACCOUNT") or ""
    return BlobServiceClient(
        f"https://{account}.blob.core.windows.net",
        credential={"account_name": account, "account_key": settings.cloud("AZURE_STORAGE_KEY") or ""},
        **options,
    )


@functools.lru_cache(maxsize=8)
def available(settings: Settings) -> bool:
    try:
        import azure.storage.blob  # noqa: F401
    except ImportError:
        return False
    return bool(
        settings.cloud("AZURE_STORAGE_CONNECTION_STRING")
        or (settings.cloud("AZURE_STORAGE_ACCOUNT") and settings.cloud("AZURE_STORAGE_KEY"))
    )


def store(settings: Settings) -> AzureStore:
    return AzureStore(settings)


class AzureStore:
    def __init__(self, settings: Settings) -> None:
        self._client = client(settings)

    def head(self, ref: CloudRef) -> Announced:
        blob = self._client.get_blob_client(ref.bucket, ref.key)
        properties = _call(ref, blob.get_blob_properties)
        md5 = properties.content_settings.content_md5
        return Announced(
            etag=properties.etag,
            size=properties.size,
            md5=bytes(md5).hex() if md5 else None,
            content_type=properties.content_settings.content_type,
            last_modified=http_date(properties.last_modified),
        )

    def chunks(self, ref: CloudRef, announced: Announced) -> Iterator[bytes]:
        from azure.core import MatchConditions

        blob = self._client.get_blob_client(ref.bucket, ref.key)
        version = announced.etag
        condition = {"etag": version, "match_condition": MatchConditions.IfNotModified} if version else {}
        stream = _call(ref, blob.download_blob, **condition)
        try:
            yield from stream.chunks()
        except Exception as exc:  # noqa: BLE001 - translated into the typed errors below
            raise _translate(ref, exc) from None


def _translate(ref: CloudRef, exc: Exception) -> UpstreamError:
    from azure.core import exceptions as az

    if isinstance(exc, az.HttpResponseError) and exc.status_code:
        return status_error(
            ref,
            str(getattr(exc, "error_code", "") or ""),
            int(exc.status_code),
            service="Azure",
            hint="the storage account key or SAS",
        )
    if isinstance(exc, az.ServiceRequestTimeoutError | az.ServiceResponseTimeoutError):
        return UpstreamTimeout(f"Azure timed out ({type(exc).__name__})", url=ref.uri)
    if isinstance(exc, az.ServiceRequestError):
        return UpstreamUnavailable(f"cannot reach Azure ({type(exc).__name__})", url=ref.uri)
    return IncompleteDownload(f"the Azure transfer broke ({type(exc).__name__})", url=ref.uri)


_call = translating(_translate)


def signed_url(settings: Settings, container: str, blob: str, lifetime: int) -> str:
    """The blob's URL with a read-only SAS valid ``lifetime`` seconds, signed with the account key."""
    import datetime

    from azure.storage.blob import BlobSasPermissions, generate_blob_sas

    service = client(settings)
    account_key = getattr(service.credential, "account_key", None)
    if not account_key:
        raise CannotSign("an Azure SAS is signed with the account key, and the connection string has none")
    expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=lifetime)
    sas = generate_blob_sas(
        account_name=service.account_name,
        container_name=container,
        blob_name=blob,
        account_key=account_key,
        permission=BlobSasPermissions(read=True),
        expiry=expiry,
    )
    return f"{service.get_blob_client(container, blob).url}?{sas}"
