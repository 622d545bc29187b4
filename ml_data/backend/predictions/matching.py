"""Which task an image of the model's output belongs to.

By the dataset's ``manifest.json`` when there is one: it maps every file ml-data placed in the
dataset to its task, so an image (or its label file) is found by its stem, and the subset folder
(``train``, ``val``) tells same-named images of different subsets apart. Without a manifest, by
the file name of each task's image in the project (``photos/cat.jpg`` -> ``cat``; ml-data's
``cat__task12`` names task 12). An image that no task has, or that several tasks have, is that
item's problem, named in the report.

A task may show several images (the pages of a ``<Repeater>``, the items of a ``valueList``):
each is an item of its task, ``(2,)`` or ``(0, 1)`` for nested Repeaters, as the manifest records
it (``"item": 2``) and as ml-data names a second image of that name (``page__task12__p2``).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ml_data.backend.predictions.model import ImageItem, ItemProblem, shown, subset_folders
from ml_data.converters.images import image_name
from ml_data.fsutil import safe_filename

#: ml-data's dataset names a second image of the same name after its task: ``cat__task12``.
_TASK_SUFFIX = re.compile(r"^(?P<base>.*)__task(?P<task>\d{1,18})(?:__p(?P<item>\d{1,9}(?:-\d{1,9})*))?$")
#: The item of a task's only image.
ONLY: tuple[int, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """A task an image name may belong to; ``path``: its image in the dataset, when known;
    ``item``: which of the task's images it is (:data:`ONLY` for a task's only image)."""

    task: int
    folders: tuple[str, ...] = ()
    path: str | None = None
    item: tuple[int, ...] = ONLY


def stem(name: str) -> str:
    """The name without its extension: ``cat.jpg`` and ``cat.txt`` are the same image."""
    return posixpath.splitext(name)[0]


class TaskIndex:
    """Image stems -> the tasks that have an image of that stem."""

    def __init__(self, by: str, candidates: Iterable[tuple[str, Candidate]]) -> None:
        #: how images are matched: "manifest" or "file name"
        self.by = by
        self._stems: dict[str, list[Candidate]] = {}
        for key, candidate in candidates:
            self._stems.setdefault(key, []).append(candidate)

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> TaskIndex:
        """From a dataset's manifest: every placed file with its task."""
        entries = []
        for relative, entry in (manifest.get("files") or {}).items():
            task = entry.get("task") if isinstance(entry, Mapping) else None
            if not isinstance(relative, str) or not isinstance(task, int) or isinstance(task, bool):
                continue
            item = _manifest_item(entry.get("item"))
            if item is None:
                continue
            parts = relative.split("/")
            entries.append((stem(parts[-1]), Candidate(task, subset_folders(tuple(parts[:-1])), relative, item)))
        return cls("manifest", entries)

    @classmethod
    def from_tasks(cls, tasks: Iterable[tuple[int, str, tuple[int, ...]]]) -> TaskIndex:
        """From (task id, image URL, item) triples: each image under its stem, as it is and as
        ml-data's datasets spell it (a safe file name)."""
        entries = []
        for task, url, item in tasks:
            name = stem(image_name(url))
            for key in dict.fromkeys((name, safe_filename(name, fallback="image"))):
                entries.append((key, Candidate(task, item=item)))
        return cls("file name", entries)

    def match(self, item: ImageItem) -> Candidate:
        """The one task ``item``'s image belongs to; an :class:`ItemProblem` when none or several."""
        key = stem(item.name)
        found = self._stems.get(key)
        suffix = _TASK_SUFFIX.match(key)
        if not found and suffix is not None:
            task = int(suffix.group("task"))
            found = [candidate for candidate in self._stems.get(suffix.group("base"), []) if candidate.task == task]
            if suffix.group("item") is not None:
                numbered = tuple(int(part) for part in suffix.group("item").split("-"))
                found = [candidate for candidate in found if candidate.item == numbered]
        if not found:
            raise ItemProblem(f"no task has an image named {shown(key)} (matched by {self.by})")
        if item.folders:
            narrowed = [candidate for candidate in found if candidate.folders == item.folders]
            found = narrowed or found
        tasks = sorted({candidate.task for candidate in found})
        if len(tasks) > 1:
            listed = ", ".join(str(task) for task in tasks[:5]) + (", ..." if len(tasks) > 5 else "")
            raise ItemProblem(f"ambiguous: tasks {listed} all have an image named {shown(key)}")
        items = sorted({candidate.item for candidate in found})
        if len(items) > 1:
            listed = ", ".join(item_text(item) for item in items[:5]) + (", ..." if len(items) > 5 else "")
            raise ItemProblem(f"ambiguous: images {listed} of task {tasks[0]} are all named {shown(key)}")
        return found[0]


def item_text(item: tuple[int, ...]) -> str:
    """An item as ml-data writes it in names and messages: ``2``, ``0-3``; ``-`` for a task's only image."""
    return "-".join(str(index) for index in item) or "-"


def _manifest_item(value: object) -> tuple[int, ...] | None:
    """A manifest entry's ``item`` (absent, ``2`` or ``[0, 3]``) as a tuple; None when malformed."""
    if value is None:
        return ONLY
    indices = value if isinstance(value, list) else [value]
    if indices and all(isinstance(index, int) and not isinstance(index, bool) and index >= 0 for index in indices):
        return tuple(indices)
    return None
