"""What the pipeline keeps of each task of an export (:class:`TaskInfo`), read from its raw dict
by :class:`TaskReader` without any I/O: its resources (:mod:`ml_data.tasks.resources`), its
fingerprint and split (:mod:`ml_data.tasks.identity`), and whether the annotation selection
leaves it anything to export. Stratified or grouped splits depend on all the tasks: they are
decided once all are read (:func:`assign_task_splits`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml_data.converters.base import ConvertOptions, select_annotations
from ml_data.errors import InvalidExport, MlDataError
from ml_data.pipeline.options import DatasetOptions
from ml_data.tasks.identity import split_of, task_fingerprint, task_id_value
from ml_data.tasks.label_config import LabelConfig
from ml_data.tasks.model import read_tasks, task_from_dict
from ml_data.tasks.resources import resource_items, resource_keys, task_resources
from ml_data.tasks.splitting import SplitItem, assign_splits, group_value, task_labels


@dataclass
class TaskInfo:
    """What the pipeline keeps of one task: its fingerprint, its annotations' ids and times, its
    resources, its split, and whether it has anything to export."""

    fingerprint: str
    annotations: list[dict[str, Any]]
    resources: list[str]
    split: str | None
    selected: bool
    #: what a stratified or grouped split decides by (see :mod:`ml_data.tasks.splitting`)
    split_item: SplitItem = SplitItem()
    #: (item, URL) of each resource where it sits, when one sits in a list (a page, a
    #: ``valueList`` entry: its file names are the item's); empty: every resource is no item
    items: tuple[tuple[str | None, str], ...] = ()

    def named(self) -> list[tuple[str | None, str]]:
        """(item, URL) of each file of the task, as its file names are decided."""
        return list(self.items) if self.items else [(None, url) for url in self.resources]


class TaskReader:
    """Reads raw tasks into :class:`TaskInfo` for one config, selection and split."""

    def __init__(
        self,
        config: LabelConfig | None,
        select: ConvertOptions,
        split: Mapping[str, float] | None = None,
        *,
        stratify: bool = False,
        group_key: str | None = None,
    ) -> None:
        self.keys = resource_keys(config)
        self.select = select
        self.split = split
        self.stratify = stratify
        self.group_key = group_key

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
        labels: frozenset[str] = frozenset()
        try:
            chosen = select_annotations(task_from_dict(raw), self.select)[0]
            selected = bool(chosen)
            labels = task_labels(chosen) if self.stratify else labels
        except MlDataError:
            selected = True  # the conversion reports it, by the error policy
        group = group_value(raw.get("data"), self.group_key) if self.group_key is not None else None
        annotations = [
            {
                "id": item.get("id"),
                "updated_at": item.get("updated_at"),
                "was_cancelled": bool(item.get("was_cancelled")),
            }
            for item in raw.get("annotations") or ()
            if isinstance(item, Mapping)
        ]
        items = resource_items(raw.get("data"), self.keys)
        return TaskInfo(
            fingerprint=task_fingerprint(raw),
            annotations=annotations,
            resources=task_resources(raw.get("data"), self.keys),
            # Stratified or grouped: decided by assign_task_splits once every task is read.
            split=split_of(raw.get("id"), self.split) if self.split and not self.decided_later else None,
            selected=selected,
            split_item=SplitItem(labels, group),
            items=tuple(items) if any(item is not None for item, _url in items) else (),
        )

    @property
    def decided_later(self) -> bool:
        return self.stratify or self.group_key is not None

    def resources(self, raw: Mapping[str, Any]) -> Iterator[tuple[str, int | None]]:
        """(URL, task id) of each resource of a raw task."""
        task_id = task_id_value(str(raw.get("id")))
        yield from ((url, task_id) for url in task_resources(raw.get("data"), self.keys))


def scan_tasks(export: Path, reader: TaskReader) -> dict[str, TaskInfo]:
    """One streaming pass over an export: every task's :class:`TaskInfo`, by id."""
    tasks: dict[str, TaskInfo] = {}
    for raw in read_tasks(export).raw():
        reader.add(tasks, raw, export.name)
    return tasks


#: what a previous dataset must share with this one for its tasks to keep their splits
_SPLIT_SETTINGS = ("split", "stratify", "group_by")


def assign_task_splits(
    tasks: Mapping[str, TaskInfo], options: DatasetOptions, previous: Mapping[str, Any] | None
) -> None:
    """Set the split of every task, for a stratified or grouped split (other splits are a hash of
    the task id, set as each task is read). A task of the ``previous`` dataset keeps the split
    it had there when that dataset was split the same way; so adding tasks moves none."""
    if not options.split or not (options.stratify or options.group_by):
        return
    settings = (previous or {}).get("settings") or {}
    fingerprint = options.fingerprint()
    earlier: dict[str, str] = {}
    if all(settings.get(key) == fingerprint[key] for key in _SPLIT_SETTINGS):
        for task_id, entry in ((previous or {}).get("tasks") or {}).items():
            if isinstance(entry, Mapping) and isinstance(entry.get("split"), str):
                earlier[str(task_id)] = entry["split"]
    items = {task_id: info.split_item for task_id, info in tasks.items()}
    for task_id, name in assign_splits(items, options.split, earlier, stratify=bool(options.stratify)).items():
        tasks[task_id].split = name


__all__ = ["TaskInfo", "TaskReader", "assign_task_splits", "scan_tasks"]
