"""Putting the resources beside the annotations, and listing every file of the dataset.

Converters never copy media: they record where the output refers to each file (placements), and
this module puts the file there: a hard link where ml-data owns the file (the cache, the previous
dataset), a copy otherwise (Local Files, mounted uploads, ``--copy``). Formats that keep the task
data as it is (JSON, CSV) get their resources under ``media/``, the URLs in the data rewritten to
match (:class:`MediaLinks`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ml_data.converters.images import UniqueNames
from ml_data.errors import OutputError
from ml_data.hashing import descriptor_sha256, file_sha256
from ml_data.pipeline.manifest import described_by, unchanged_file
from ml_data.pipeline.report import DatasetReport
from ml_data.pipeline.tasks import TaskInfo
from ml_data.resolvers.base import LocalFile
from ml_data.tasks.model import read_tasks
from ml_data.tasks.resources import KeyPath, find_resources, rewrite_resources

#: where a placed file comes from: its local path, the resolved file (or None), the previous
#: dataset's entry (or None), the task id, and the item of the task it is (None for a task's
#: only file)
Placement = tuple[Path, "LocalFile | None", "Mapping[str, Any] | None", Any, "str | None"]
_BLOCK = 1024 * 1024
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class MediaLinks:
    """For formats that keep task data as it is (JSON, CSV): each resolved resource is placed at
    ``media/<name>`` and its URL in the task data replaced by that relative path, where the
    resource walk found it (``keys``: the config's resource keys, as the tasks were read with).
    A file of a list (a page, an item of ``valueList``) is that item of its task; two files of
    one task that would share a name are told apart by their item."""

    def __init__(
        self, tasks: Mapping[str, TaskInfo], keys: Sequence[str] | None, available: Callable[[str, Any], bool]
    ) -> None:
        self.tasks = tasks
        self.keys = keys
        self.available = available
        self.names = UniqueNames()
        #: (URL, task id) -> its path in the dataset
        self.placed: dict[tuple[str, Any], str] = {}
        #: (path in the dataset, task id) -> the URL it replaced
        self.sources: dict[tuple[str, Any], str] = {}
        #: path in the dataset -> the item of its task it is, for files of a list
        self.items: dict[str, str] = {}

    def rewrite(self, raw: Mapping[str, Any]) -> Mapping[str, Any]:
        info = self.tasks.get(str(raw.get("id")))
        data = raw.get("data")
        if info is None or not info.resources or not isinstance(data, Mapping):
            return raw
        task_id = raw.get("id")
        items: dict[str, str | None] = {}
        if len(info.resources) > 1 or any(len(path) > 1 for path, _url in find_resources(data, self.keys)):
            for path, url in find_resources(data, self.keys):
                items.setdefault(url, _item(path))
        links = {
            url: self._path(url, task_id, items.get(url)) for url in info.resources if self.available(url, task_id)
        }
        if not links:
            return raw
        return {**raw, "data": rewrite_resources(data, self.keys, links)}

    def _path(self, url: str, task_id: Any, item: str | None) -> str:
        path = self.placed.get((url, task_id))
        if path is None:
            # A name belongs to one file of one task: another file of this task with that name
            # (page.png of two folders, or of two keys) gets its own, told apart by its item.
            stem = self.names.stem(url, task_id, item, owner=(url, task_id))
            path = f"media/{stem}{UniqueNames.extension(url, default='')}"
            self.placed[(url, task_id)] = path
            self.sources[(path, task_id)] = url
            if item is not None:
                self.items[path] = item
        return path

    def source_of(self, path: str, task_id: Any) -> str | None:
        """The URL a rewritten value (``media/<name>``) stands for, for a format that reads the
        file (a time series labelled row by row) before it is placed."""
        return self.sources.get((path, task_id))


def _item(path: KeyPath) -> str | None:
    """The item a resource is, from where it sits: its list indices (``("pages", 2, "url")`` ->
    ``2``); None for a value that is in no list."""
    indices = [str(step) for step in path if isinstance(step, int)]
    return "-".join(indices) if indices else None


class FilteredTasks:
    """The export's raw tasks that ``keep`` accepts, their resource URLs pointed at the dataset's
    copies by ``media`` if given; re-iterable (formats may read tasks twice)."""

    def __init__(self, export: Path, keep: Callable[[Any], bool], media: MediaLinks | None = None) -> None:
        self.export = export
        self.keep = keep
        self.media = media

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        for raw in read_tasks(self.export).raw():
            if self.keep(raw.get("id")):
                yield self.media.rewrite(raw) if self.media is not None else raw


def image_size(source: LocalFile | Path | None) -> tuple[int, int] | None:
    """The size from the image's header (only for results that lack original_width/height); a
    resolved file is read as :meth:`LocalFile.open` opens it (beneath its root, for one in place)."""
    if source is None:
        return None
    from PIL import Image

    try:
        with source.open() if isinstance(source, LocalFile) else open(source, "rb") as handle:
            with Image.open(handle) as image:
                return image.size
    except OSError:  # also NotFound and UnsafePath
        return None


def place_and_record(
    building: Path,
    out: Path,
    previous: Mapping[str, Any] | None,
    placed_from: Mapping[str, Placement],
    *,
    link: bool,
    report: DatasetReport,
) -> dict[str, dict[str, Any]]:
    """Place the resources, keep unchanged files as they were, and list every file with its size,
    sha256 and modification time (the manifest's ``files``).

    A file is kept from the previous dataset only when it is still what that dataset's manifest
    says (:func:`unchanged_file`, checked on the very link made), so the sha256 recorded is the
    sha256 of the file placed.
    """
    old_files: Mapping[str, Any] = (previous or {}).get("files") or {}
    files: dict[str, dict[str, Any]] = {}
    for relative, (path, local, old, task, item) in placed_from.items():
        check_inside(relative)
        target = building / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        previous_entry = old_files.get(relative)
        if old is None and local is not None and not local.cached:
            sha256, size, how = _place_in_place(local, target, out / relative, previous_entry)
            source = local.source
        else:
            if old is not None:
                sha256, size, source = old["sha256"], int(old["size"]), old["source"]
            else:
                assert local is not None
                sha256, size, source = local.sha256, local.size, local.source
            if _same(previous_entry, sha256, size) and _keep(out / relative, target, previous_entry):
                how = "kept"
            elif link and (_keep(path, target, old) if old is not None else _link(path, target)):
                how = "linked"
            else:
                _copy(path, target, old)
                how = "copied"
        setattr(report, f"files_{how}", getattr(report, f"files_{how}") + 1)
        files[relative] = {"size": size, "sha256": sha256, "source": source, "task": task}
        if item is not None:
            files[relative]["item"] = _item_value(item)
        report.bytes_total += size
    for path in sorted(building.rglob("*")):
        relative = path.relative_to(building).as_posix()
        if relative in files or not path.is_file():
            continue
        size = path.stat().st_size
        sha256 = file_sha256(path)
        previous_entry = old_files.get(relative)
        # The same content: keep the previous file (its inode and time) instead of the new copy.
        if _same(previous_entry, sha256, size) and _keep(out / relative, path, previous_entry, replace=True):
            report.files_kept += 1
        files[relative] = {"size": size, "sha256": sha256}
        report.bytes_total += size
    for relative, entry in files.items():
        entry["mtime_ns"] = os.lstat(building / relative).st_mtime_ns
    return files


def check_inside(relative: str) -> None:
    """Refuse a place for a file that is not a plain path inside the dataset (absolute, ``..``,
    empty parts): whatever a format records, nothing is written outside the output folder."""
    parts = relative.split("/")
    if not relative or relative.startswith("/") or "\0" in relative or any(part in ("", ".", "..") for part in parts):
        raise OutputError(f"refusing to place a file at {relative!r}: not a plain path inside the dataset")


def _item_value(item: str) -> int | list[int]:
    """An item as the manifest records it: its index (``2``), or its Repeater indices, outermost
    first (``[0, 3]``)."""
    indices = [int(part) for part in item.split("-")]
    return indices[0] if len(indices) == 1 else indices


def _same(entry: Mapping[str, Any] | None, sha256: str, size: int) -> bool:
    return entry is not None and entry.get("sha256") == sha256 and entry.get("size") == size


def _place_in_place(
    local: LocalFile, target: Path, previous: Path, previous_entry: Mapping[str, Any] | None
) -> tuple[str, int, str]:
    """A file read in place (Local Files, mounted uploads): opened once, beneath its root, and
    hashed and copied from that descriptor, so the sha256 recorded is that of the bytes placed.
    Returns (sha256, size, "kept" or "copied")."""
    with local.open() as handle:
        fd = handle.fileno()
        sha256, size = descriptor_sha256(fd), os.fstat(fd).st_size
        if _same(previous_entry, sha256, size) and _keep(previous, target, previous_entry):
            return sha256, size, "kept"
        digest, size = hashlib.sha256(), 0
        try:
            with open(target, "xb") as copy:
                while block := handle.read(_BLOCK):
                    digest.update(block)
                    copy.write(block)
                    size += len(block)
        except OSError as exc:
            raise OutputError(f"cannot copy {local.path} into the dataset: {exc.strerror or exc}") from None
    return digest.hexdigest(), size, "copied"


def _keep(source: Path, target: Path, entry: Mapping[str, Any] | None, *, replace: bool = False) -> bool:
    """Hard-link the previous dataset's ``source`` at ``target`` when it is still the file
    ``entry`` describes; False (nothing left at ``target``) otherwise. The check is made on the
    link just made, so on exactly the file kept: a symlink planted in the previous dataset is
    linked as itself (never followed) and then refused."""
    if entry is None:
        return False
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}") if replace else target
    if not _link(source, temporary):
        return False
    if not unchanged_file(temporary, entry):
        temporary.unlink()
        return False
    if replace:
        os.replace(temporary, target)
    return True


def _link(source: Path, target: Path) -> bool:
    """Hard-link ``source`` itself (a symlink is not followed) at ``target``; False where the file
    system cannot (then copy)."""
    try:
        os.link(source, target, follow_symlinks=False)
        return True
    except OSError:
        return False


def _copy(source: Path, target: Path, entry: Mapping[str, Any] | None = None) -> None:
    """Copy ``source`` to ``target``: a cache entry, or the previous dataset's file ``entry``
    describes (then opened without following a link, and checked on its descriptor)."""
    try:
        if entry is None:
            shutil.copyfile(source, target)
            return
        handle = open(os.open(source, os.O_RDONLY | _NOFOLLOW | _CLOEXEC), "rb")
    except OSError as exc:
        raise OutputError(f"cannot copy {source} into the dataset: {exc.strerror or exc}") from None
    with handle:
        if not described_by(os.fstat(handle.fileno()), entry):
            raise OutputError(f"{source} changed while the dataset was built; run the fetch again")
        try:
            with open(target, "xb") as copy:
                shutil.copyfileobj(handle, copy, _BLOCK)
        except OSError as exc:
            raise OutputError(f"cannot copy {source} into the dataset: {exc.strerror or exc}") from None


__all__ = ["FilteredTasks", "MediaLinks", "Placement", "image_size", "place_and_record"]
