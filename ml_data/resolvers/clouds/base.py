"""The shape every cloud provider module has, and what they share: the object lookup and byte
stream an SDK gives (:class:`ObjectStore`), and the translation of a service's errors into typed
ones.

Each provider module (:mod:`~ml_data.resolvers.clouds.s3`, ``gcs``, ``azure``) says how its URLs
look (hosts, signature parameters: pure) and how to reach its objects (a client built from the
settings; the SDK imported on first use). Downloading them into the cache is not their concern:
:mod:`ml_data.resolvers.download` does that for every kind alike.
"""

from __future__ import annotations

import datetime
import email.utils
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from ml_data.errors import AccessDenied, IncompleteDownload, RemoteNotFound, UpstreamError, UpstreamHTTPError

if TYPE_CHECKING:
    from ml_data.config import Settings
    from ml_data.resolvers.base import Announced
    from ml_data.resolvers.refs import CloudRef
    from ml_data.urls import HttpURL


class CannotSign(Exception):
    """A provider cannot presign this object with the credentials at hand; the message says why
    (the caller tries another way)."""


class ObjectStore(Protocol):
    """A cloud's objects as its SDK reaches them. The SDKs' own download helpers are not used:
    they write the target in place (a dead transfer leaves a partial file) and retry for minutes."""

    def head(self, ref: CloudRef) -> Announced:
        """The object's current version (``etag``), size, checksum and type; typed errors."""
        ...

    def chunks(self, ref: CloudRef, announced: Announced) -> Iterator[bytes]:
        """The bytes of exactly that version, in chunks; typed errors."""
        ...


class Provider(Protocol):
    """A cloud provider module (the modules themselves implement this)."""

    #: the URI scheme Label Studio writes for it: ``s3``, ``gs``, ``azure-blob``
    SCHEME: str

    def object_at(self, target: HttpURL, path: str, endpoint: HttpURL | None) -> tuple[str, str] | None:
        """(bucket, key) when ``target`` is on one of this cloud's own hosts (or ``endpoint``, its
        configured S3-compatible endpoint); ``path`` is the URL's path, decoded. ("", "") for its
        host with no object named; None for any other host. Pure."""
        ...

    def signs(self, name: str, present: frozenset[str]) -> bool:
        """True for a query parameter (``name`` in lower case) that signs this cloud's URLs rather
        than naming a resource; ``present`` holds every parameter name of the query, lower case."""
        ...

    def available(self, settings: Settings) -> bool:
        """True when the SDK is installed and finds credentials (else Label Studio is asked)."""
        ...

    def store(self, settings: Settings) -> ObjectStore:
        """The object store over the SDK's client for ``settings``."""
        ...


def http_date(moment: datetime.datetime | None) -> str | None:
    """A cloud's modification time written as HTTP writes ``Last-Modified``, so that the cache
    entry can be revalidated with ``If-Modified-Since`` whichever way the object is reached next.

    >>> http_date(datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc))
    'Fri, 02 Jan 2026 03:04:05 GMT'
    """
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)  # the SDKs speak UTC
    return email.utils.format_datetime(moment.astimezone(datetime.timezone.utc), usegmt=True)


def status_error(ref: CloudRef, code: str, status: int, *, service: str, hint: str) -> UpstreamError:
    """The typed error for a cloud service's error code / HTTP status (shared by the clouds)."""
    if status == 404 or code in ("404", "NoSuchKey", "NoSuchBucket", "NotFound", "BlobNotFound", "ContainerNotFound"):
        return RemoteNotFound(f"no such {service} object ({code or status})", status_code=404, url=ref.uri)
    if status in (401, 403) or code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
        return AccessDenied(
            f"{service} refused access ({code or status}): check {hint}, or pass the task id so the "
            "object is fetched through Label Studio",
            status_code=403,
            url=ref.uri,
        )
    if status in (409, 412) or code in ("PreconditionFailed", "ConditionNotMet"):
        return IncompleteDownload("the object changed during the download", url=ref.uri)
    return UpstreamHTTPError(f"{service} error {code or status}", status_code=status or 500, url=ref.uri)


def translating(translate: Callable[[CloudRef, Exception], UpstreamError]) -> Callable[..., Any]:
    """A caller of SDK methods that turns whatever they raise into a typed error with ``translate``."""

    def call(ref: CloudRef, method: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return method(**kwargs)
        except UpstreamError:
            raise
        except Exception as exc:  # noqa: BLE001 - SDKs raise many unrelated types; all are translated
            raise translate(ref, exc) from None

    return call
