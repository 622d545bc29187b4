"""What the image formats share: naming image files uniquely, iterating annotated images, and
knowing their size."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

from ml_data.converters.base import Context, annotated_tasks
from ml_data.converters.label_config import LabelConfig
from ml_data.converters.model import Annotation, Region, Task


def image_name(url: str) -> str:
    """The file name of an image URL or path (``/data/local-files/?d=dir/x.jpg`` -> ``x.jpg``)."""
    parts = urlsplit(url)
    if parts.query and "d=" in parts.query:
        path = unquote(parts.query.split("d=", 1)[1])
    else:
        path = unquote(parts.path)
    return posixpath.basename(path) or "image"


class UniqueNames:
    """Stems made unique per task: the first task keeps ``frame``, another task's ``frame``
    becomes ``frame__task<id>`` (images of the same name in different folders are common)."""

    def __init__(self) -> None:
        self._owner: dict[str, object] = {}

    def stem(self, url: str, task_id: object) -> str:
        stem = posixpath.splitext(image_name(url))[0].replace("/", "_") or "image"
        if self._owner.get(stem, task_id) != task_id:
            stem = f"{stem}__task{task_id}"
        self._owner[stem] = task_id
        return stem

    @staticmethod
    def extension(url: str, default: str = ".jpg") -> str:
        return posixpath.splitext(image_name(url))[1] or default


def image_key(config: LabelConfig) -> str:
    """The task data key of the config's (first) Image object."""
    return next((tag.value_key for tag in config.objects.values() if tag.type == "Image"), None) or ""


def annotated_images(context: Context, key: str, *, warn_many: bool = False) -> Iterator[tuple[Task, str, Annotation]]:
    """(task, image URL, annotation to export) for every task of an image format.

    A task without an image URL fails or is skipped (error policy); a task without a selected
    annotation is skipped with its reason; the first selected annotation is exported (``warn_many``
    reports tasks that had more).
    """
    for task, url, selected in annotated_tasks(context, key, "image"):
        if warn_many and len(selected) > 1:
            context.report.warn(f"task {task.id}: {len(selected)} annotations, the first one exported")
        yield task, url, selected[0]


def image_size(regions: Iterable[Region], url: str, task_id: Any, context: Context) -> tuple[int, int] | None:
    """The image's size: from the first result that records it, else the caller's size lookup;
    None (after failing or skipping the task, by policy) when neither knows it."""
    for region in regions:
        if region.original_width and region.original_height:
            return int(region.original_width), int(region.original_height)
    lookup = context.options.image_sizes
    size = lookup(url, task_id) if lookup is not None else None
    if size is None:
        context.fail_or_skip(task_id, "image size unknown (no original_width/height and no size lookup)")
    return size
