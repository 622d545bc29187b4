"""``/data/local-files/?d=<path>``: read in place under LOCAL_FILES_DOCUMENT_ROOT, else from Label Studio."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ml_data.errors import NotFound
from ml_data.resolvers._remote import cached_download, label_studio_url
from ml_data.resolvers.base import LocalFile, OpenedFile
from ml_data.resolvers.beneath import open_beneath
from ml_data.resolvers.containment import check_relative, usable_root
from ml_data.resolvers.refs import LocalFilesRef, UploadRef

if TYPE_CHECKING:
    from pathlib import Path

    from ml_data.resolvers.resolver import Resolver


def fetch(ref: LocalFilesRef, resolver: Resolver, task_id: int | None) -> LocalFile | OpenedFile:
    """The file in place when the document root is mounted here; otherwise downloaded from Label
    Studio (which serves it when LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED is on).

    Unsafe paths are refused before anything is read or sent.
    """
    relative = check_relative(ref.path, url=ref.raw)
    mounted = open_mounted(resolver, ref, resolver.settings.local_files_root, relative)
    if mounted is not None:
        return mounted
    return cached_download(resolver, ref, label_studio_url(resolver, ref.ls_url, url=ref.raw, target=ref.target))


def open_mounted(
    resolver: Resolver, ref: UploadRef | LocalFilesRef, root: Path | None, relative: str
) -> OpenedFile | None:
    """The file in place, opened beneath ``root``, when that is configured and holds a regular file
    there; None when Label Studio should be asked instead; NotFound when it is missing and Label
    Studio is not configured either."""
    real_root = usable_root(root)
    if real_root is None:
        return None
    checked = open_beneath(real_root, relative, url=ref.raw)
    if checked is not None:
        return OpenedFile.in_place(checked, real_root, ref)
    if not (resolver.settings.label_studio_url or ref.target is not None):
        raise NotFound(f"no file {relative!r} under {real_root}", url=ref.raw)
    return None
