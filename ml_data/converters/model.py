"""One intermediate model of a Label Studio export: Task, Annotation, Region.

Read lazily, one task at a time (:mod:`ml_data.converters.reader`), from a JSON list, JSON lines,
a single task object, a folder of ``<task id>.json`` files (target cloud storage, old
``completions/`` folders), or any iterable of task dicts (API pages). The legacy ``completions``
key reads as annotations. Every format reads from these objects, never from the raw JSON.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from ml_data.converters.reader import Unreadable, read_raw
from ml_data.errors import InvalidExport


class Region(NamedTuple):
    """One item of an annotation's ``result``.

    The model classes are named tuples: immutable and typed like frozen dataclasses, and several
    times cheaper to create (an export of 100k tasks holds millions of regions).
    """

    id: str | None
    from_name: str
    to_name: str
    type: str
    value: Mapping[str, Any]
    parent_id: str | None = None
    score: float | None = None
    original_width: int | None = None
    original_height: int | None = None
    image_rotation: float | None = None
    #: the result item as exported
    raw: Mapping[str, Any] | None = None


class Annotation(NamedTuple):
    """An annotation, or a prediction (``is_prediction``)."""

    id: int | None
    result: tuple[Region, ...]
    completed_by: Any = None
    created_at: str | None = None
    updated_at: str | None = None
    lead_time: float | None = None
    was_cancelled: bool = False
    ground_truth: bool = False
    history: Any = None
    is_prediction: bool = False
    model_version: str | None = None
    score: float | None = None
    raw: Mapping[str, Any] | None = None


class Task(NamedTuple):
    id: int | None
    data: Mapping[str, Any]
    annotations: tuple[Annotation, ...]
    predictions: tuple[Annotation, ...]
    #: the task as exported (the JSON format writes it back)
    raw: Mapping[str, Any]

    @property
    def agreement(self) -> Any:
        return self.raw.get("agreement")


def _region(item: Any, task_id: Any) -> Region:
    # isinstance(x, dict) first: the Mapping ABC check costs ten times as much, per region.
    if not isinstance(item, dict | Mapping):
        raise InvalidExport(f"a result item is {type(item).__name__}, not an object", task_id=task_id)
    get = item.get
    value = get("value")
    return Region(
        get("id"),
        str(get("from_name") or ""),
        str(get("to_name") or ""),
        str(get("type") or ""),
        value if isinstance(value, dict | Mapping) else {},
        get("parentID"),
        get("score"),
        get("original_width"),
        get("original_height"),
        get("image_rotation"),
        item,
    )


def _annotation(item: Any, task_id: Any, *, is_prediction: bool) -> Annotation:
    if not isinstance(item, dict | Mapping):
        kind = "a prediction" if is_prediction else "an annotation"
        raise InvalidExport(f"{kind} is {type(item).__name__}, not an object", task_id=task_id)
    result = item.get("result")
    result = [] if result is None else result
    if not isinstance(result, list):
        raise InvalidExport("an annotation's result is not a list", task_id=task_id)
    return Annotation(
        id=item.get("id"),
        result=tuple(_region(region, task_id) for region in result),
        completed_by=item.get("completed_by"),
        created_at=item.get("created_at"),
        updated_at=item.get("updated_at"),
        lead_time=item.get("lead_time"),
        was_cancelled=bool(item.get("was_cancelled") or item.get("skipped")),
        ground_truth=bool(item.get("ground_truth")),
        history=item.get("history"),
        is_prediction=is_prediction,
        model_version=item.get("model_version"),
        score=item.get("score"),
        raw=item,
    )


def task_from_dict(raw: Any) -> Task:
    """A Task from one exported task object (``completions`` read as ``annotations``)."""
    if isinstance(raw, Unreadable):
        raise InvalidExport(f"unreadable task: {raw}")
    if not isinstance(raw, dict | Mapping):
        raise InvalidExport(f"a task is {type(raw).__name__}, not an object")
    task_id = raw.get("id")
    data = raw.get("data")
    if not isinstance(data, dict | Mapping):
        raise InvalidExport("task has no 'data' object", task_id=task_id)
    annotations = raw.get("annotations", raw.get("completions"))
    annotations = [] if annotations is None else annotations
    predictions = raw.get("predictions")
    predictions = [] if predictions is None else predictions
    if not isinstance(annotations, list) or not isinstance(predictions, list):
        raise InvalidExport("task annotations/predictions are not lists", task_id=task_id)
    return Task(
        id=task_id,
        data=data,
        annotations=tuple(_annotation(item, task_id, is_prediction=False) for item in annotations),
        # Label Studio's direct export lists predictions by id only: there is nothing to read in those.
        predictions=tuple(
            _annotation(item, task_id, is_prediction=True) for item in predictions if not isinstance(item, int)
        ),
        raw=raw,
    )


class TaskSource:
    """A re-iterable stream of raw task dicts; each iteration reads the source again.

    Formats whose header needs every task (CSV) iterate twice without holding the export in memory.
    """

    def __init__(self, source: str | os.PathLike[str] | Iterable[Mapping[str, Any]]) -> None:
        self._path: Path | None = None
        self._items: Iterable[Mapping[str, Any]] | None = None
        if isinstance(source, str | os.PathLike):
            self._path = Path(source)
        else:
            self._items = source
        if self._path is not None and not self._path.exists():
            raise InvalidExport(f"no such export file or folder: {self._path}")

    @property
    def name(self) -> str:
        return str(self._path) if self._path is not None else "<tasks>"

    def raw(self) -> Iterator[Mapping[str, Any]]:
        if self._path is None:
            assert self._items is not None
            yield from self._items
            return
        yield from read_raw(self._path)

    def __iter__(self) -> Iterator[Task]:
        for raw in self.raw():
            yield task_from_dict(raw)


def read_tasks(source: str | os.PathLike[str] | Iterable[Mapping[str, Any]]) -> TaskSource:
    """Tasks from an export file, a folder of task files, or an iterable of task dicts.

    >>> for task in read_tasks("export.json"):  # doctest: +SKIP
    ...     print(task.id, len(task.annotations))
    """
    return TaskSource(source)
