"""What a file of URLs to fetch holds: a Label Studio export (its tasks' values, as the resource
walk sees them) or a plain list with one URL per line. The CLI's ``resolve --tasks`` and
``prefetch`` read their input through here, so that how an export is recognised is said once."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from ml_data.tasks.model import read_tasks
from ml_data.tasks.resources import walk


class ExportValue(NamedTuple):
    """One value of an export's task data, or a note for a task that has none."""

    #: the value itself; for a task without a data object, a note saying so
    value: Any
    #: the task's id, when it has an integer one
    task_id: int | None
    #: the top-level data key the value is under (None for a task without data)
    key: str | None
    #: whether the resource walk takes it for a resource URL
    resource: bool


def export_values(path: str | os.PathLike[str]) -> Iterator[ExportValue]:
    """Every value in an export's task data, read as a stream, as the resource walk sees them
    (without a config: any value that looks like a URL). Values that are not resource URLs are
    yielded too, for the caller to report rather than drop silently.

    Raises OSError or :class:`~ml_data.errors.MlDataError` while iterating, when the export
    cannot be read."""
    for number, task in enumerate(read_tasks(path).raw(), 1):
        data = task.get("data") if isinstance(task, Mapping) else None
        task_id = task.get("id") if isinstance(task, Mapping) and isinstance(task.get("id"), int) else None
        if not isinstance(data, Mapping):
            yield ExportValue(f"task #{number} has no data object", task_id, None, False)
            continue
        for found in walk(data, None):
            yield ExportValue(found.value, task_id, str(found.path[0]), found.resource)


def is_export(path: str | os.PathLike[str]) -> bool:
    """Whether a URL list file is a Label Studio export: its very first character opens JSON
    (``[`` or ``{``); anything else is read as one URL per line. Raises OSError."""
    with open(path, encoding="utf-8") as handle:
        return handle.read(1).lstrip() in ("[", "{")


def url_lines(path: str | os.PathLike[str]) -> list[str]:
    """The URLs of a text file, one per line; blank lines and ``#`` comments left out. Raises
    OSError."""
    with open(path, encoding="utf-8") as handle:
        lines = [line.strip() for line in handle]
    return [line for line in lines if line and not line.startswith("#")]


__all__ = ["ExportValue", "export_values", "is_export", "url_lines"]
