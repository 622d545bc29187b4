"""Which tasks changed since the last dataset: Label Studio's events (or a poll of its task list)
read into :class:`Change` records, weighed against the dataset's manifest. Pure functions, no I/O.

The manifest already records every task's annotations (id, ``updated_at``), so a change is pending
exactly while the manifest does not show it: an annotation saved with a time the manifest does not
have, or deleted while the manifest still lists it. A build that included a change makes it
disappear from the count by itself, whoever built; one that arrived during the build stays.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

#: Label Studio's events that change what a dataset holds.
ANNOTATION_SAVED = frozenset({"ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_CREATED"})
ANNOTATIONS_DELETED = "ANNOTATIONS_DELETED"
TASKS_DELETED = "TASKS_DELETED"
#: Label Studio's "Start Training" button: train now, whatever the count.
START_TRAINING = "START_TRAINING"


@dataclass(frozen=True)
class Change:
    """One annotation saved (``updated_at``) or deleted, or one task deleted (``annotation`` None),
    heard at ``at`` (seconds since the epoch)."""

    task: int | None
    annotation: int | None
    updated_at: str | None
    deleted: bool
    at: float

    @property
    def key(self) -> tuple[str, int | None]:
        return ("annotation", self.annotation) if self.annotation is not None else ("task", self.task)

    def as_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "annotation": self.annotation,
            "updated_at": self.updated_at,
            "deleted": self.deleted,
            "at": self.at,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Change | None:
        """A journal line read back (None for anything that is not one)."""
        task, annotation, at = raw.get("task"), raw.get("annotation"), raw.get("at")
        if not (task is None or _is_id(task)) or not (annotation is None or _is_id(annotation)):
            return None
        if task is None and annotation is None or not isinstance(at, int | float):
            return None
        updated_at = raw.get("updated_at")
        return cls(task, annotation, updated_at if isinstance(updated_at, str) else None, bool(raw.get("deleted")), at)


def event_project(data: Mapping[str, Any]) -> int | None:
    """The project an event is about, where it says."""
    project = data.get("project")
    if isinstance(project, Mapping) and _is_id(project.get("id")):
        return int(project["id"])
    annotation = data.get("annotation")
    if isinstance(annotation, Mapping) and _is_id(annotation.get("project")):
        return int(annotation["project"])
    return None


def changes_from_event(action: str, data: Mapping[str, Any], at: float) -> list[Change]:
    """The changes a Label Studio webhook event carries (none for events that change no dataset)."""
    if action in ANNOTATION_SAVED:
        items = data.get("annotations") if isinstance(data.get("annotations"), list) else [data.get("annotation")]
        found = []
        for item in items or ():
            if isinstance(item, Mapping) and _is_id(item.get("id")):
                task = item.get("task")
                task_id = task.get("id") if isinstance(task, Mapping) else task
                updated = item.get("updated_at")
                found.append(
                    Change(
                        int(task_id) if _is_id(task_id) else None,
                        int(item["id"]),
                        updated if isinstance(updated, str) else None,
                        False,
                        at,
                    )
                )
        return found
    if action == ANNOTATIONS_DELETED:
        return [
            Change(None, int(item["id"]), None, True, at)
            for item in data.get("annotations") or ()
            if isinstance(item, Mapping) and _is_id(item.get("id"))
        ]
    if action == TASKS_DELETED:
        return [
            Change(int(item["id"]), None, None, True, at)
            for item in data.get("tasks") or ()
            if isinstance(item, Mapping) and _is_id(item.get("id"))
        ]
    return []


def changes_from_tasks(
    tasks: Iterable[Mapping[str, Any]], manifest: Mapping[str, Any] | None, at: float
) -> list[Change]:
    """The changes a poll of the project's tasks (with their annotations) shows against the
    manifest: every annotation it does not have as it is now, every one it has that is gone, and
    every task it has that is gone."""
    recorded = _recorded(manifest)
    seen_tasks: set[int] = set()
    found: list[Change] = []
    for task in tasks:
        task_id = task.get("id")
        if not _is_id(task_id):
            continue
        seen_tasks.add(int(task_id))
        present: set[int] = set()
        for item in task.get("annotations") or ():
            if isinstance(item, Mapping) and _is_id(item.get("id")):
                present.add(int(item["id"]))
                updated = item.get("updated_at")
                found.append(
                    Change(int(task_id), int(item["id"]), updated if isinstance(updated, str) else None, False, at)
                )
        for annotation in recorded.get(int(task_id), {}):
            if annotation not in present:
                found.append(Change(int(task_id), annotation, None, True, at))
    found += [Change(task, None, None, True, at) for task in recorded if task not in seen_tasks]
    return [change for change in found if not reflected(change, manifest, recorded)]


def pending(changes: Iterable[Change], manifest: Mapping[str, Any] | None) -> list[Change]:
    """The latest change of each annotation (and task) that the manifest does not show yet, each
    with its task (a deletion event names only the annotation: its task is found in earlier
    changes or in the manifest)."""
    recorded = _recorded(manifest)
    task_of = {annotation: task for task, annotations in recorded.items() for annotation in annotations}
    latest: dict[tuple[str, int | None], Change] = {}
    for change in changes:
        if change.annotation is not None and change.task is not None:
            task_of.setdefault(change.annotation, change.task)
        latest[change.key] = change
    found = []
    for change in latest.values():
        if change.task is None and change.annotation is not None:
            task = task_of.get(change.annotation)
            if task is None:
                continue  # deleted before any dataset had it, and never seen saved: no change
            change = Change(task, change.annotation, change.updated_at, change.deleted, change.at)
        if not reflected(change, manifest, recorded):
            found.append(change)
    return found


def changed_tasks(changes: Iterable[Change]) -> set[int]:
    return {change.task for change in changes if change.task is not None}


def reflected(
    change: Change, manifest: Mapping[str, Any] | None, recorded: dict[int, dict[int, str | None]] | None = None
) -> bool:
    """The manifest already shows ``change``."""
    recorded = _recorded(manifest) if recorded is None else recorded
    if change.annotation is None:
        return change.deleted and change.task not in recorded
    annotations = recorded.get(change.task, {}) if change.task is not None else {}
    if change.deleted:
        return change.annotation not in annotations
    return change.annotation in annotations and _same_time(annotations[change.annotation], change.updated_at)


def _recorded(manifest: Mapping[str, Any] | None) -> dict[int, dict[int, str | None]]:
    """task id -> {annotation id: updated_at}, as the manifest records them."""
    tasks = (manifest or {}).get("tasks")
    found: dict[int, dict[int, str | None]] = {}
    if not isinstance(tasks, Mapping):
        return found
    for key, info in tasks.items():
        if not str(key).isdigit() or not isinstance(info, Mapping):
            continue
        annotations = found.setdefault(int(key), {})
        for item in info.get("annotations") or ():
            if isinstance(item, Mapping) and _is_id(item.get("id")):
                updated = item.get("updated_at")
                annotations[int(item["id"])] = updated if isinstance(updated, str) else None
    return found


def _same_time(recorded: str | None, heard: str | None) -> bool:
    """Two of Label Studio's timestamps name the same moment (however they are spelled)."""
    if recorded == heard:
        return True
    if recorded is None or heard is None:
        return False
    try:
        return datetime.datetime.fromisoformat(recorded) == datetime.datetime.fromisoformat(heard)
    except ValueError:
        return False


def _is_id(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


__all__ = [
    "ANNOTATIONS_DELETED",
    "ANNOTATION_SAVED",
    "START_TRAINING",
    "TASKS_DELETED",
    "Change",
    "changed_tasks",
    "changes_from_event",
    "changes_from_tasks",
    "event_project",
    "pending",
    "reflected",
]
