"""One intermediate model of a Label Studio export: Task, Annotation, Region.

Read lazily, one task at a time (:mod:`ml_data.tasks.reader`), from a JSON list, JSON lines,
a single task object, a folder of ``<task id>.json`` files (target cloud storage, old
``completions/`` folders), or any iterable of task dicts (API pages). The legacy ``completions``
key reads as annotations. Every format reads from these objects, never from the raw JSON.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from ml_data.errors import InvalidExport
from ml_data.tasks.reader import Unreadable, read_raw


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
    id: int | str | None
    data: Mapping[str, Any]
    annotations: tuple[Annotation, ...]
    predictions: tuple[Annotation, ...]
    #: the task as exported (the JSON format writes it back)
    raw: Mapping[str, Any]

    @property
    def agreement(self) -> Any:
        return self.raw.get("agreement")


class _Misfit(Exception):
    """A part of a task that is not what Label Studio writes. Raised where it is found, with the
    field's path from there; each caller puts its own part of the path in front, so the error
    names the whole path (``annotations[0].result[2].value``) at no cost to tasks that fit."""

    def __init__(self, path: str, value: Any, expected: str) -> None:
        super().__init__(path)
        self.path = path
        self.value = value
        self.expected = expected

    def under(self, parent: str) -> _Misfit:
        self.path = parent + ("." if self.path and not self.path.startswith("[") else "") + self.path
        return self

    def describe(self, subject: str) -> str:
        """The message: the task (``subject``, empty when the error's task id names it), the
        field, what is there and what should be."""
        if isinstance(self.value, Unreadable):
            return f"{subject} cannot be read: {self.value}"
        if self.value is _MISSING:
            problem = f"is missing: it must be {self.expected}"
        else:
            problem = f"is {_json_kind(self.value)}, not {self.expected}"
        where = f"{subject}: {self.path}" if subject and self.path else subject or self.path
        return f"{where} {problem}"


_MISSING: Any = object()


def _json_kind(value: Any) -> str:
    """What a value is, in JSON's words (the export is JSON)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, Mapping) else f"a {type(value).__name__}"


def _region(item: Any) -> Region:
    # isinstance(x, dict) first: the Mapping ABC check costs ten times as much, per region.
    if not isinstance(item, dict | Mapping):
        raise _Misfit("", item, "an object")
    get = item.get
    value = get("value")
    if value is None:
        value = {}  # a relation has none
    elif not isinstance(value, dict | Mapping):
        raise _Misfit("value", value, "an object")
    return Region(
        get("id"),
        str(get("from_name") or ""),
        str(get("to_name") or ""),
        str(get("type") or ""),
        value,
        get("parentID"),
        get("score"),
        get("original_width"),
        get("original_height"),
        get("image_rotation"),
        item,
    )


def _annotation(item: Any, *, is_prediction: bool) -> Annotation:
    if not isinstance(item, dict | Mapping):
        raise _Misfit("", item, "an object")
    result = item.get("result")
    result = [] if result is None else result
    if not isinstance(result, list):
        raise _Misfit("result", result, "a list")
    try:
        regions = tuple(_region(region) for region in result)
    except _Misfit as misfit:
        raise misfit.under(f"result[{_misfit_index(result, _region)}]") from None
    return Annotation(
        id=item.get("id"),
        result=regions,
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


def _annotations(raw: Mapping[str, Any], key: str, *, is_prediction: bool) -> tuple[Annotation, ...]:
    items = raw.get(key)
    if items is None:
        return ()
    if not isinstance(items, list):
        raise _Misfit(key, items, "a list")
    try:
        # Label Studio's direct export lists predictions by id only: there is nothing to read in those.
        return tuple(
            _annotation(item, is_prediction=is_prediction)
            for item in items
            if not (is_prediction and isinstance(item, int))
        )
    except _Misfit as misfit:
        index = _misfit_index(
            items,
            lambda item: (is_prediction and isinstance(item, int)) or _annotation(item, is_prediction=is_prediction),
        )
        raise misfit.under(f"{key}[{index}]") from None


def _misfit_index(items: list[Any], build: Callable[[Any], Any]) -> int:
    """The position of the first item ``build`` refuses: looked for only once one was refused."""
    for index, item in enumerate(items):
        try:
            build(item)
        except _Misfit:
            return index
    raise AssertionError("no item refused")


def task_from_dict(raw: Any, *, position: int | None = None, source: str | None = None) -> Task:
    """A Task from one exported task object (``completions`` read as ``annotations``).

    A task that is not what Label Studio writes is an :class:`InvalidExport` naming the field
    (``annotations[0].result[2].value``) and the task: by its id (``task_id``) when it has one,
    else by its ``position`` in ``source``, counted from 1 (``task #3 in export.json``).

    >>> task_from_dict({"id": 1, "data": {"text": "hi"}, "annotations": [{"result": [{"value": []}]}]})
    Traceback (most recent call last):
    ...
    ml_data.errors.InvalidExport: annotations[0].result[0].value is a list, not an object [task 1]
    """
    try:
        if not isinstance(raw, dict | Mapping):
            raise _Misfit("", raw, "an object")
        task_id = raw.get("id")
        if task_id is not None and (isinstance(task_id, bool) or not isinstance(task_id, int | str)):
            raise _Misfit("id", task_id, "an integer or a string")
        data = raw.get("data", _MISSING)
        if not isinstance(data, dict | Mapping):
            raise _Misfit("data", data, "an object")
        return Task(
            task_id,
            data,
            _annotations(raw, "annotations" if "annotations" in raw else "completions", is_prediction=False),
            _annotations(raw, "predictions", is_prediction=True),
            raw,
        )
    except _Misfit as misfit:
        task_id = raw.get("id") if isinstance(raw, dict | Mapping) and misfit.path != "id" else None
        if task_id is not None:
            raise InvalidExport(misfit.describe(""), task_id=task_id) from None
        if position is None:
            subject = "a task"
        else:
            subject = f"task #{position}" + (f" in {source}" if source else "")
        raise InvalidExport(misfit.describe(subject)) from None


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

    @property
    def reiterable(self) -> bool:
        """Whether the tasks can be read again (a file, a list; not a one-shot iterator)."""
        return self._path is not None or iter(self._items or ()) is not self._items

    def raw(self) -> Iterator[Mapping[str, Any]]:
        if self._path is None:
            assert self._items is not None
            yield from self._items
            return
        yield from read_raw(self._path)

    def __iter__(self) -> Iterator[Task]:
        for position, raw in enumerate(self.raw(), 1):
            yield task_from_dict(raw, position=position, source=self.name)


def read_tasks(source: str | os.PathLike[str] | Iterable[Mapping[str, Any]]) -> TaskSource:
    """Tasks from an export file, a folder of task files, or an iterable of task dicts.

    >>> for task in read_tasks("export.json"):  # doctest: +SKIP
    ...     print(task.id, len(task.annotations))
    """
    return TaskSource(source)
