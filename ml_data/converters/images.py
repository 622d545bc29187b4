"""Naming image files in datasets: the image's own name, made unique across tasks."""

from __future__ import annotations

import posixpath
from urllib.parse import unquote, urlsplit


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
    def extension(url: str) -> str:
        return posixpath.splitext(image_name(url))[1] or ".jpg"
