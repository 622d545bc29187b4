"""Storage objects (``s3://``, ``gs://``, ``azure-blob://``, ``b2://`` and any other storage
Label Studio knows), however they were reached.

A presigned https URL is downloaded directly (without credentials); a Label Studio resolve/presign
link is asked of Label Studio, which redirects to a presigned URL (the token is not sent there) or
proxies the body; a raw URI goes through its cloud's SDK when ml-data has one for that scheme and
it is installed and finds credentials (:mod:`ml_data.resolvers.clouds`), else through Label
Studio's ``/tasks/<id>/resolve/?fileuri=<base64 of the URI>``, the link Label Studio itself gives
its frontend, when a task id is known. Every way shares the storage identity, so the object is
cached once, and the one download skeleton (:mod:`ml_data.resolvers.download`) keeps it fresh the
same way whichever way it is reached: after the TTL its version is asked for (an SDK lookup, or a
conditional GET).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

from ml_data.errors import LabelStudioNotConfigured, MissingTaskId, RemoteNotFound
from ml_data.redaction import redact_url
from ml_data.resolvers.base import Announced, LocalFile
from ml_data.resolvers.clouds import PROVIDERS
from ml_data.resolvers.download import Body, Current, Source, bounded, cached_download
from ml_data.resolvers.http_source import HttpSource, label_studio_source
from ml_data.resolvers.parse import encode_fileuri
from ml_data.resolvers.refs import CloudRef
from ml_data.resolvers.registry import url_kind

if TYPE_CHECKING:
    from ml_data.cache import CacheEntry
    from ml_data.config import Settings
    from ml_data.deadline import Deadline
    from ml_data.resolvers.clouds.base import ObjectStore
    from ml_data.resolvers.resolver import Resolver


def fetch(ref: CloudRef, resolver: Resolver, task_id: int | None) -> LocalFile:
    way = route(ref, resolver.settings)
    try:
        return cached_download(resolver, ref, _source(ref, resolver, task_id, way))
    except RemoteNotFound as exc:
        if way != "label-studio":
            raise
        # Label Studio's 404 means it has no storage for this URI in the task's project (it finds
        # one by scheme and bucket) or the object is gone: say which URI, not only its base64 link.
        raise RemoteNotFound(
            f"{exc.message}: Label Studio could not resolve {redact_url(ref.uri)} (no storage of the "
            f"task's project has the {ref.scheme}:// bucket {ref.bucket!r}, or the object does not exist)",
            status_code=exc.status_code,
            url=exc.url,
            task_id=exc.task_id,
        ) from None


#: How a storage object is read: the presigned URL the task gave, its cloud's SDK, or Label Studio.
Route = Literal["presigned", "sdk", "label-studio"]


def route(ref: CloudRef, settings: Settings) -> Route:
    """How ``ref`` is read: the URL the task gave (a presigned URL, a Label Studio link), else its
    cloud's SDK when ml-data has one for the scheme and it finds credentials, else Label Studio.

    >>> route(parse_ref("b2://bucket/k.jpg"), Settings())  # doctest: +SKIP
    'label-studio'
    """
    if ref.via == "presigned":
        return "presigned"
    provider = PROVIDERS.get(ref.scheme) if ref.via == "uri" else None
    return "sdk" if provider is not None and provider.available(settings) else "label-studio"


def _source(ref: CloudRef, resolver: Resolver, task_id: int | None, way: Route) -> Source:
    """The source for the object along ``way`` (see :func:`route`)."""
    if way == "presigned":
        assert ref.target is not None
        return HttpSource(resolver.http, ref.target)
    if way == "sdk":
        return StoreSource(PROVIDERS[ref.scheme].store(resolver.settings), ref)
    if ref.via == "label-studio":
        assert ref.ls_url is not None
        return label_studio_source(resolver, ref.ls_url, url=ref.raw, target=ref.target)
    return _via_label_studio(ref, resolver, task_id)


def fetch_object(store: ObjectStore, ref: CloudRef, resolver: Resolver) -> LocalFile:
    """The object through ``store`` (an SDK), cached as every remote file is."""
    return cached_download(resolver, ref, StoreSource(store, ref))


def _via_label_studio(ref: CloudRef, resolver: Resolver, task_id: int | None) -> Source:
    """Label Studio's ``/tasks/<id>/resolve/`` for an object of one of its storages: Label Studio
    finds the storage by the URI's scheme and bucket among the task's project's storages."""
    extra = url_kind(ref.kind).extra
    # What else would read the object: the cloud's SDK, for the schemes ml-data has one for.
    sdk = f"install ml-data[{extra}] and configure that cloud's credentials" if extra else None
    if task_id is None:
        ways = "task_id= in Python, --task-id to ml-data resolve, or the task's id in a --tasks file"
        raise MissingTaskId(
            f"cannot fetch {ref.scheme}:// objects here: {sdk}, or pass the task id ({ways}) so the object "
            "is fetched through Label Studio's resolve endpoint"
            if sdk
            else f"{ref.scheme}:// objects are read through Label Studio's resolve endpoint, which needs "
            f"the id of the task that holds them: pass it ({ways})",
            url=ref.raw,
        )
    if not (resolver.settings.label_studio_url and resolver.settings.api_key):
        raise LabelStudioNotConfigured(
            f"cannot fetch {ref.scheme}:// objects here: set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY "
            "to fetch it through Label Studio" + (f", or {sdk}" if sdk else ""),
            url=ref.raw,
        )
    path = f"/tasks/{int(task_id)}/resolve/?fileuri={encode_fileuri(ref.uri)}"
    return label_studio_source(resolver, path, url=ref.raw)


class StoreSource:
    """A cloud object through its SDK: its version by an object lookup, its body by the SDK's
    stream of exactly that version (a stream that breaks off starts over)."""

    def __init__(self, store: ObjectStore, ref: CloudRef) -> None:
        self._store = store
        self._ref = ref
        self.location = ref.uri

    def check(self, entry: CacheEntry, deadline: Deadline) -> Current | Body:
        announced = self._store.head(self._ref)
        if announced.etag is not None and entry.etag == announced.etag:
            return Current()
        return _StoreBody(self._store, self._ref, announced)

    def open(self, deadline: Deadline) -> Body:
        return _StoreBody(self._store, self._ref, self._store.head(self._ref))

    def retry(self, first: Body, received: int, deadline: Deadline) -> tuple[Body, int]:
        return _StoreBody(self._store, self._ref, first.announced), 0


class _StoreBody:
    def __init__(self, store: ObjectStore, ref: CloudRef, announced: Announced) -> None:
        self._store = store
        self._ref = ref
        self.announced = announced
        self._stream: Iterator[bytes] | None = None

    def chunks(self, max_bytes: int, deadline: Deadline) -> Iterator[bytes]:
        # The SDK's request is sent when the first chunk is asked for: its failures are the transfer's.
        self._stream = self._store.chunks(self._ref, self.announced)
        return bounded(self._stream, max_bytes, deadline, url=self._ref.uri)

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()  # a generator's close runs its cleanup (the SDK stream's own close)
