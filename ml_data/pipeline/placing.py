"""Putting the resources beside the annotations, and listing every file of the dataset.

Converters never copy media: they record where the output refers to each file (placements), and
this module puts the file there: a hard link where ml-data owns the file (the cache, the previous
dataset), a copy otherwise (Local Files, mounted uploads, ``--copy``). Formats that keep the task
data as it is (JSON, CSV) get their resources under ``media/``, the URLs in the data rewritten to
match (:class:`MediaLinks`).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ml_data.converters.images import UniqueNames
from ml_data.converters.model import read_tasks
from ml_data.errors import OutputError
from ml_data.hashing import file_sha256
from ml_data.pipeline.report import DatasetReport
from ml_data.pipeline.tasks import TaskInfo
from ml_data.resolvers.base import LocalFile

#: where a placed file comes from: its local path, the resolved file (or None), the previous
#: dataset's entry (or None), and the task id
Placement = tuple[Path, "LocalFile | None", "Mapping[str, Any] | None", Any]


class MediaLinks:
    """For formats that keep task data as it is (JSON, CSV): each resolved resource is placed at
    ``media/<name>`` and its URL in the task data replaced by that relative path."""

    def __init__(self, tasks: Mapping[str, TaskInfo], available: Callable[[str, Any], bool]) -> None:
        self.tasks = tasks
        self.available = available
        self.names = UniqueNames()
        #: (URL, task id) -> its path in the dataset
        self.placed: dict[tuple[str, Any], str] = {}

    def rewrite(self, raw: Mapping[str, Any]) -> Mapping[str, Any]:
        info = self.tasks.get(str(raw.get("id")))
        data = raw.get("data")
        if info is None or not info.resources or not isinstance(data, Mapping):
            return raw
        task_id = raw.get("id")
        links = {url: self._path(url, task_id) for url in info.resources if self.available(url, task_id)}
        if not links:
            return raw
        rewritten = {
            key: (
                [links.get(item, item) if isinstance(item, str) else item for item in value]
                if isinstance(value, list)
                else links.get(value, value)
                if isinstance(value, str)
                else value
            )
            for key, value in data.items()
        }
        return {**raw, "data": rewritten}

    def _path(self, url: str, task_id: Any) -> str:
        path = self.placed.get((url, task_id))
        if path is None:
            path = f"media/{self.names.stem(url, task_id)}{UniqueNames.extension(url, default='')}"
            self.placed[(url, task_id)] = path
        return path


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


def image_size(path: Path | None) -> tuple[int, int] | None:
    """The size from the image's header (only for results that lack original_width/height)."""
    if path is None:
        return None
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.size
    except OSError:
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
    """Place the resources, keep unchanged files as they were, and list every file with its size
    and sha256 (the manifest's ``files``)."""
    old_files: Mapping[str, Any] = (previous or {}).get("files") or {}
    files: dict[str, dict[str, Any]] = {}
    for relative, (path, local, old, task) in placed_from.items():
        target = building / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if old is not None:
            sha256, size, source = old["sha256"], int(old["size"]), old["source"]
        else:
            assert local is not None
            sha256, size = local.sha256, local.size
            source = local.source
        previous_entry = old_files.get(relative)
        if previous_entry and previous_entry.get("sha256") == sha256 and _link(out / relative, target):
            report.files_kept += 1
        elif (old is not None or (local is not None and local.cached)) and link and _link(path, target):
            report.files_linked += 1
        else:
            _copy(path, target)
            report.files_copied += 1
        files[relative] = {"size": size, "sha256": sha256, "source": source, "task": task}
        report.bytes_total += size
    for path in sorted(building.rglob("*")):
        relative = path.relative_to(building).as_posix()
        if relative in files or not path.is_file():
            continue
        size = path.stat().st_size
        sha256 = file_sha256(path)
        previous_entry = old_files.get(relative)
        if previous_entry and previous_entry.get("sha256") == sha256 and previous_entry.get("size") == size:
            # The same content: keep the previous file (its inode and time) instead of the new copy.
            if _link(out / relative, path, replace=True):
                report.files_kept += 1
        files[relative] = {"size": size, "sha256": sha256}
        report.bytes_total += size
    return files


def _link(source: Path, target: Path, *, replace: bool = False) -> bool:
    """Hard-link ``source`` at ``target``; False where the file system cannot (then copy)."""
    try:
        if replace:
            temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}")
            os.link(source, temporary)
            os.replace(temporary, target)
        else:
            os.link(source, target)
        return True
    except OSError:
        return False


def _copy(source: Path, target: Path) -> None:
    try:
        shutil.copyfile(source, target)
    except OSError as exc:
        raise OutputError(f"cannot copy {source} into the dataset: {exc.strerror or exc}") from None


__all__ = ["FilteredTasks", "MediaLinks", "Placement", "image_size", "place_and_record"]
