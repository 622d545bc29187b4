"""The pure task core: what the pipeline, the CLI, the service and a distributed reader need to
know of one task, read from its raw dict without any I/O.

- :func:`resource_keys` / :func:`task_resources`: the one answer to "which files does this task
  reference" (the labeling config's media tags when there is one, values that look like URLs
  otherwise; lists of URLs included either way);
- :func:`task_fingerprint`: what of a task decides its part of a dataset;
- :func:`split_of`: the split a task belongs to, by a hash of its id;
- :class:`TaskReader`: all of that for one raw task, as a :class:`TaskInfo`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml_data.converters.base import ConvertOptions, select_annotations
from ml_data.converters.label_config import LabelConfig
from ml_data.converters.model import read_tasks, task_from_dict
from ml_data.errors import InvalidExport, MlDataError
from ml_data.jsonio import dumps
from ml_data.resolvers.refs import looks_like_resource

#: Object tags whose value is always a file to fetch; any other tag counts when valueType="url".
MEDIA_TAGS = frozenset({"Image", "Audio", "AudioPlus", "Video", "Pdf", "TimeSeries"})


def resource_keys(config: LabelConfig | None) -> list[str] | None:
    """The task data keys that hold files: media object tags and tags with valueType="url"
    (None without a config: then any value that looks like a URL counts)."""
    if config is None:
        return None
    keys = []
    for tag in config.objects.values():
        if tag.value_key and (tag.type in MEDIA_TAGS or (tag.value_type or "").lower() == "url"):
            if tag.value_key not in keys:
                keys.append(tag.value_key)
    return keys


def task_resources(data: Mapping[str, Any], keys: list[str] | None) -> list[str]:
    """The resource URLs of a task's data, each once, in order: the values under ``keys`` (see
    :func:`resource_keys`), or without keys every value that looks like a URL; a list value
    counts item by item.

    >>> task_resources({"image": "/data/upload/1/a.jpg", "text": "hi"}, None)
    ['/data/upload/1/a.jpg']
    """
    values = list(data.values()) if keys is None else [data.get(key) for key in keys]
    found: list[str] = []
    for value in values:
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, str):
                continue
            wanted = looks_like_resource(item) if keys is None else bool(item.strip())
            if wanted and item not in found:
                found.append(item)
    return found


def task_fingerprint(raw: Mapping[str, Any]) -> str:
    """What of a task decides its part of a dataset: its data and meta, its annotations (results,
    state, author), and which predictions it has. The rest (counters, drafts, the export's own
    choices, such as users by id or whole) is left out, so a snapshot and a direct export of the
    same task agree. Predictions count by id, or whole where the export has them whole (it has
    them so only when they are exported)."""

    def ident(value: Any) -> Any:
        return value.get("id") if isinstance(value, Mapping) else value

    annotations = [
        {
            key: ident(item.get(key)) if key == "completed_by" else item.get(key)
            for key in ("id", "result", "updated_at", "was_cancelled", "ground_truth", "completed_by")
        }
        for item in raw.get("annotations") or ()
        if isinstance(item, Mapping)
    ]
    view = {
        "id": raw.get("id"),
        "data": raw.get("data"),
        "meta": raw.get("meta") or None,
        "annotations": annotations,
        "predictions": sorted(
            (
                dumps([item.get("id"), item.get("updated_at"), item.get("result")]).decode()
                if isinstance(item, Mapping)
                else str(item)
            )
            for item in raw.get("predictions") or ()
        ),
    }
    return hashlib.sha256(dumps(view, sort_keys=True)).hexdigest()[:32]


def split_of(task_id: Any, split: Mapping[str, float]) -> str:
    """The split a task belongs to: a hash of its id, so the same task always lands in the same
    split whatever else the project holds."""
    digest = hashlib.sha256(f"ml-data-split:{task_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64
    total = 0.0
    names = list(split)
    for name in names:
        total += split[name]
        if point < total:
            return name
    return names[-1]


def task_id_value(task_id: str) -> int | None:
    """A task id key (manifest keys are strings) as Label Studio's integer, when it is one."""
    return int(task_id) if task_id.isdigit() else None


@dataclass
class TaskInfo:
    """What the pipeline keeps of one task: its fingerprint, its annotations' ids and times, its
    resources, its split, and whether it has anything to export."""

    fingerprint: str
    annotations: list[dict[str, Any]]
    resources: list[str]
    split: str | None
    selected: bool


class TaskReader:
    """Reads raw tasks into :class:`TaskInfo` for one config, selection and split."""

    def __init__(
        self, config: LabelConfig | None, select: ConvertOptions, split: Mapping[str, float] | None = None
    ) -> None:
        self.keys = resource_keys(config)
        self.select = select
        self.split = split

    def add(self, tasks: dict[str, TaskInfo], raw: Mapping[str, Any], source: str) -> TaskInfo:
        """Read ``raw`` into ``tasks`` (by id); a task without an id is an error. A later task
        with an id already read is an error too, or with the error policy ``skip`` is left to
        the conversion, which reports it (``duplicate task id``): the first one is kept."""
        task_id = raw.get("id")
        if task_id is None:
            raise InvalidExport(f"a task in {source} has no id; ml-data needs exports from Label Studio")
        key = str(task_id)
        if key in tasks:
            if self.select.on_error == "skip":
                return tasks[key]
            raise InvalidExport(f"task {task_id} appears twice in {source}")
        info = tasks[key] = self.info(raw)
        return info

    def info(self, raw: Mapping[str, Any]) -> TaskInfo:
        try:
            selected = bool(select_annotations(task_from_dict(raw), self.select)[0])
        except MlDataError:
            selected = True  # the conversion reports it, by the error policy
        data = raw.get("data")
        if not isinstance(data, Mapping):
            data = {}
        annotations = [
            {
                "id": item.get("id"),
                "updated_at": item.get("updated_at"),
                "was_cancelled": bool(item.get("was_cancelled")),
            }
            for item in raw.get("annotations") or ()
            if isinstance(item, Mapping)
        ]
        return TaskInfo(
            fingerprint=task_fingerprint(raw),
            annotations=annotations,
            resources=task_resources(data, self.keys),
            split=split_of(raw.get("id"), self.split) if self.split else None,
            selected=selected,
        )

    def resources(self, raw: Mapping[str, Any]) -> Iterator[tuple[str, int | None]]:
        """(URL, task id) of each resource of a raw task."""
        data = raw.get("data")
        task_id = task_id_value(str(raw.get("id")))
        yield from ((url, task_id) for url in task_resources(data if isinstance(data, Mapping) else {}, self.keys))


def scan_tasks(export: Path, reader: TaskReader) -> dict[str, TaskInfo]:
    """One streaming pass over an export: every task's :class:`TaskInfo`, by id."""
    tasks: dict[str, TaskInfo] = {}
    for raw in read_tasks(export).raw():
        reader.add(tasks, raw, export.name)
    return tasks


__all__ = [
    "MEDIA_TAGS",
    "TaskInfo",
    "TaskReader",
    "resource_keys",
    "scan_tasks",
    "split_of",
    "task_fingerprint",
    "task_id_value",
    "task_resources",
]
