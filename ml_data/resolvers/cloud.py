"""``s3://``, ``gs://`` and ``azure-blob://`` objects, however they were reached.

A presigned https URL is downloaded directly (without credentials); a Label Studio resolve/presign
link is asked of Label Studio, which redirects to a presigned URL (the token is not sent there) or
proxies the body; a raw URI goes through its cloud's SDK when that SDK is installed and finds
credentials (:mod:`ml_data.resolvers.clouds`), else through Label Studio's resolve endpoint when a
task id is known. Every way shares the cloud identity, so the object is cached once, and the one
download skeleton (:mod:`ml_data.resolvers.download`) keeps it fresh the same way whichever way
it is reached: after the TTL its version is asked for (an SDK lookup, or a conditional GET).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ml_data.errors import LabelStudioNotConfigured, MissingTaskId
from ml_data.resolvers.base import Announced, LocalFile
from ml_data.resolvers.clouds import PROVIDERS
from ml_data.resolvers.download import Body, Current, Source, bounded, cached_download
from ml_data.resolvers.http_source import HttpSource, label_studio_source
from ml_data.resolvers.parse import encode_fileuri
from ml_data.resolvers.refs import CloudRef
from ml_data.resolvers.registry import url_kind

if TYPE_CHECKING:
    from ml_data.cache import CacheEntry
    from ml_data.deadline import Deadline
    from ml_data.resolvers.clouds.base import ObjectStore
    from ml_data.resolvers.resolver import Resolver


def fetch(ref: CloudRef, resolver: Resolver, task_id: int | None) -> LocalFile:
    return cached_download(resolver, ref, source_for(ref, resolver, task_id))


def source_for(ref: CloudRef, resolver: Resolver, task_id: int | None) -> Source:
    """How the object is asked for: the URL the task gave, else the cloud's SDK, else Label Studio."""
    if ref.via == "presigned":
        assert ref.target is not None
        return HttpSource(resolver.http, ref.target)
    if ref.via == "label-studio":
        assert ref.ls_url is not None
        return label_studio_source(resolver, ref.ls_url, url=ref.raw, target=ref.target)
    provider = PROVIDERS[ref.scheme]
    if provider.available(resolver.settings):
        return StoreSource(provider.store(resolver.settings), ref)
    return _via_label_studio(ref, resolver, task_id)


def fetch_object(store: ObjectStore, ref: CloudRef, resolver: Resolver) -> LocalFile:
    """The object through ``store`` (an SDK), cached as every remote file is."""
    return cached_download(resolver, ref, StoreSource(store, ref))


def _via_label_studio(ref: CloudRef, resolver: Resolver, task_id: int | None) -> Source:
    """Label Studio's ``/tasks/<id>/resolve/`` for an object of one of its storages."""
    extra = url_kind(ref.kind).extra
    if task_id is None:
        raise MissingTaskId(
            f"cannot fetch {ref.scheme}:// objects here: install ml-data[{extra}] and "
            "configure that cloud's credentials, or pass the task id so the object is fetched "
            "through Label Studio's resolve endpoint",
            url=ref.raw,
        )
    if not (resolver.settings.label_studio_url and resolver.settings.api_key):
        raise LabelStudioNotConfigured(
            f"cannot fetch {ref.scheme}:// objects here: set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY "
            "to fetch it through Label Studio, or install "
            f"ml-data[{extra}] and configure that cloud's credentials",
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
