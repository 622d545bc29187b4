"""Plain paths and ``file://`` URLs: returned in place, only inside the configured folders."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ml_data.errors import NotFound, UnsafePath
from ml_data.resolvers.base import OpenedFile
from ml_data.resolvers.beneath import open_beneath
from ml_data.resolvers.containment import check_relative, root_holding, usable_root
from ml_data.resolvers.refs import LocalPathRef

if TYPE_CHECKING:
    from ml_data.resolvers.resolver import Resolver


def fetch(ref: LocalPathRef, resolver: Resolver, task_id: int | None) -> OpenedFile:
    """Absolute paths must lie in LOCAL_FILES_DOCUMENT_ROOT, ML_DATA_UPLOAD_DIR or one of
    ML_DATA_LOCAL_ROOTS; relative paths are taken relative to LOCAL_FILES_DOCUMENT_ROOT. Either
    way the file is opened beneath its root (see :mod:`ml_data.resolvers.beneath`)."""
    settings = resolver.settings
    if ref.path.startswith("/"):
        candidates = [settings.local_files_root, settings.upload_dir, *settings.extra_local_roots]
        roots = [root for root in map(usable_root, candidates) if root is not None]
        root, relative = root_holding(ref.path, roots, url=ref.raw)
    else:
        found = usable_root(settings.local_files_root)
        if found is None:
            raise UnsafePath("relative paths are read under LOCAL_FILES_DOCUMENT_ROOT, which is not set", url=ref.raw)
        root, relative = found, check_relative(ref.path, url=ref.raw)
    checked = open_beneath(root, relative, url=ref.raw)
    if checked is None:
        raise NotFound("no such file", url=ref.raw)
    return OpenedFile.in_place(checked, root, ref)
