"""Plain paths and ``file://`` URLs: returned in place, only inside the configured folders."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ml_data.errors import NotFound, UnsafePath
from ml_data.resolvers.base import LocalFile
from ml_data.resolvers.containment import contained_absolute, contained_path, usable_root
from ml_data.resolvers.refs import LocalPathRef

if TYPE_CHECKING:
    from ml_data.resolvers.resolver import Resolver


def fetch(ref: LocalPathRef, resolver: Resolver, task_id: int | None) -> LocalFile:
    """Absolute paths must lie in LOCAL_FILES_DOCUMENT_ROOT, ML_DATA_UPLOAD_DIR or one of
    ML_DATA_LOCAL_ROOTS; relative paths are taken relative to LOCAL_FILES_DOCUMENT_ROOT."""
    settings = resolver.settings
    if ref.path.startswith("/"):
        candidates = [settings.local_files_root, settings.upload_dir, *settings.extra_local_roots]
        roots = [root for root in map(usable_root, candidates) if root is not None]
        path = contained_absolute(ref.path, roots, url=ref.raw)
    else:
        root = usable_root(settings.local_files_root)
        if root is None:
            raise UnsafePath("relative paths are read under LOCAL_FILES_DOCUMENT_ROOT, which is not set", url=ref.raw)
        path = contained_path(root, ref.path, url=ref.raw)
    try:
        is_file = path.is_file()
    except OSError as exc:  # e.g. a name longer than the file system allows (is_file raises those)
        raise NotFound(f"cannot look up the file: {exc.strerror}", url=ref.raw) from None
    if not is_file:
        raise NotFound("no such file", url=ref.raw)
    return LocalFile.in_place(path, ref)
