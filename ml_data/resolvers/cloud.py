"""``s3://``, ``gs://`` and ``azure-blob://`` objects, however they were reached.

A presigned https URL is downloaded directly (without credentials); a Label Studio resolve/presign
link is asked of Label Studio, which redirects to a presigned URL (the token is not sent there) or
proxies the body; a raw URI goes through its cloud's SDK when that SDK is installed and finds
credentials (:mod:`~ml_data.resolvers.s3`, :mod:`~ml_data.resolvers.gcs`,
:mod:`~ml_data.resolvers.azure`), else through Label Studio's resolve endpoint when a task id is
known. Every path shares the cloud identity, so the object is cached once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ml_data.errors import LabelStudioNotConfigured, MissingTaskId
from ml_data.resolvers._remote import cached_download, label_studio_url
from ml_data.resolvers.base import LocalFile
from ml_data.resolvers.refs import CloudRef, encode_fileuri

if TYPE_CHECKING:
    from ml_data.resolvers.resolver import Resolver

_EXTRAS = {"s3": "s3", "gs": "gcs", "azure-blob": "azure"}


def fetch(ref: CloudRef, resolver: Resolver, task_id: int | None) -> LocalFile:
    if ref.via == "presigned":
        assert ref.target is not None
        return cached_download(resolver, ref, ref.target)
    if ref.via == "label-studio":
        assert ref.ls_url is not None
        return cached_download(resolver, ref, label_studio_url(resolver, ref.ls_url, url=ref.raw, target=ref.target))
    sdk = _sdk_module(ref.scheme)
    if sdk.available(resolver.settings):
        return sdk.fetch(ref, resolver, task_id)  # type: ignore[no-any-return]
    return fetch_via_label_studio(ref, resolver, task_id)


def _sdk_module(scheme: str):  # type: ignore[no-untyped-def]
    """The SDK fetcher module of a cloud (imported on first use)."""
    import importlib

    return importlib.import_module(f"ml_data.resolvers.{_EXTRAS[scheme]}")


def fetch_via_label_studio(ref: CloudRef, resolver: Resolver, task_id: int | None) -> LocalFile:
    """Ask Label Studio's ``/tasks/<id>/resolve/`` for an object of one of its storages."""
    if task_id is None:
        raise MissingTaskId(
            f"cannot fetch {ref.scheme}:// objects here: install ml-data[{_EXTRAS[ref.scheme]}] and "
            "configure that cloud's credentials, or pass the task id so the object is fetched "
            "through Label Studio's resolve endpoint",
            url=ref.raw,
        )
    if not (resolver.settings.label_studio_url and resolver.settings.api_key):
        raise LabelStudioNotConfigured(
            f"cannot fetch {ref.scheme}:// objects here: set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY "
            "to fetch it through Label Studio, or install "
            f"ml-data[{_EXTRAS[ref.scheme]}] and configure that cloud's credentials",
            url=ref.raw,
        )
    path = f"/tasks/{int(task_id)}/resolve/?fileuri={encode_fileuri(ref.uri)}"
    return cached_download(resolver, ref, label_studio_url(resolver, path, url=ref.raw))
