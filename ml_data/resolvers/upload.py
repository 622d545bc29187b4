"""``/data/upload/<project>/<file>``: read in place from the mounted media folder, else from Label Studio."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from ml_data.errors import RemoteNotFound, UnsafePath
from ml_data.resolvers._remote import cached_download, label_studio_url
from ml_data.resolvers.base import LocalFile, OpenedFile
from ml_data.resolvers.containment import check_relative
from ml_data.resolvers.local_files import open_mounted
from ml_data.resolvers.refs import UploadRef

if TYPE_CHECKING:
    from ml_data.resolvers.resolver import Resolver


def fetch(ref: UploadRef, resolver: Resolver, task_id: int | None) -> LocalFile | OpenedFile:
    """The uploaded file in place when ML_DATA_UPLOAD_DIR is set and holds it; otherwise downloaded
    from Label Studio: ``/data/upload/...`` first, then the storage proxy
    ``/storage-data/uploaded/?filepath=upload/...`` that Label Studio uses when its media are in
    cloud storage."""
    if not ref.project.isdigit():
        raise UnsafePath("upload URL must name a numeric project id", url=ref.raw)
    relative = check_relative(f"{ref.project}/{ref.name}", url=ref.raw)
    mounted = open_mounted(resolver, ref, resolver.settings.upload_dir, relative)
    if mounted is not None:
        return mounted
    try:
        return cached_download(resolver, ref, label_studio_url(resolver, ref.ls_url, url=ref.raw, target=ref.target))
    except RemoteNotFound:
        if "/storage-data/" in ref.ls_url:
            raise
        proxy = f"/storage-data/uploaded/?filepath={quote(ref.upload_key)}"
        return cached_download(resolver, ref, label_studio_url(resolver, proxy, url=ref.raw))
