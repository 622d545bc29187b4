"""The commit: a complete, checked temp file moved into its entry folder, its metadata beside it.

:meth:`~ml_data.cache.store.Cache._commit` hands a checked download here. The rename is the
commit, so readers see the entry complete and sealed or not at all, and a failure part-way
(a full disk) leaves no file without its metadata.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from ml_data.cache.disk import write_error
from ml_data.cache.metadata import CacheEntry, entry_from_meta, write_aside
from ml_data.cache.seal import seal
from ml_data.errors import CacheError
from ml_data.fsutil import safe_filename
from ml_data.redaction import redact_url

if TYPE_CHECKING:
    from ml_data.cache.store import Cache


def move_into_place(cache: Cache, key: str, tmp_path: Path, filename: str, meta: dict) -> CacheEntry:
    """Seal a complete temp file, rename it into its entry folder, write its metadata beside it.

    The rename is the commit: the file appears under its final name only complete and
    sealed (:mod:`~ml_data.cache.seal`). The metadata is written aside first, then renamed beside
    it: writers of one entry without working locks (NFS) each rename a whole description, where
    writing in place would let two of them interleave into unreadable JSON, an entry lost.
    A failure after the folder is touched (a full disk while writing the metadata) empties
    it again, so a full disk leaves the entry complete or absent, never a file without
    metadata. (A process killed between the rename and the metadata leaves one, which is a
    miss and is cleaned once silent for ``writer_timeout``.)
    """
    layout = cache.layout
    directory = layout.entry_dir(key)
    name = safe_filename(filename)
    path = layout.data_path(key, name)
    meta_path = layout.meta_path(key)
    meta["filename"] = name
    meta_tmp = layout.temp_path(key, ".meta")
    accessed = write_aside(meta_tmp, meta, root=cache.root)  # before the folder is touched
    touched = committed = False
    try:
        cache._ensure_dir(layout.shard_dir(key))
        try:
            os.mkdir(directory)
            touched = True
        except FileExistsError:
            touched = True
            # Retire the old metadata first: from here to the new metadata, the entry is a miss.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(meta_path)
            for stale in os.listdir(directory):
                if stale != name:
                    _remove(Path(layout.data_path(key, stale)))
        seal(os.fspath(tmp_path), meta["validated_at"], meta["size"])
        os.replace(tmp_path, path)
        os.replace(meta_tmp, meta_path)
        committed = True
    except CacheError:
        raise
    except FileNotFoundError:
        # Another host's cleaner removed our temp file or the entry folder (it judged the
        # writer dead): nothing half-done is visible, and the caller may try again.
        raise CacheError(
            f"the download of {redact_url(meta.get('source', ''))} was removed from the cache while it was "
            "being committed (is a cache on another host pruning with a shorter writer timeout?)"
        ) from None
    except OSError as exc:
        raise write_error(cache.root, exc, url=meta.get("source")) from None
    finally:
        if not committed:
            with contextlib.suppress(OSError):
                os.unlink(meta_tmp)
        if not committed and touched:
            # Never a file without its metadata (ours, or the old one's, retired above;
            # without locks maybe another writer's, which is then a miss, never wrong);
            # the folder goes too unless someone has put something else in it.
            for leftover in (meta_path, path):
                with contextlib.suppress(OSError):
                    os.unlink(leftover)
            with contextlib.suppress(OSError):
                os.rmdir(directory)
    entry = entry_from_meta(key, Path(path), meta, last_accessed=accessed)
    cache._remember(entry)
    return entry


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
