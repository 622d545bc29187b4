"""Stratified and grouped splits: which split each task of a dataset goes to, when a hash of its
id alone is not enough.

* Grouped (``group_by``): tasks sharing a value (a patient, a video, a document) form one unit and
  always share a split, so nothing of one group leaks from train into val.
* Stratified: each class keeps about its overall share in every split. Units that an earlier
  dataset already placed keep their split (a task never moves as the project grows); the new ones
  are placed greedily where their classes are most missing.

Everything here is a pure function of its arguments, with no I/O: the pipeline reads the labels
and group of each task (:func:`task_labels`, :func:`group_value`) and hands them over.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from ml_data.jsonio import dumps
from ml_data.tasks.filtering import label_name, value_labels
from ml_data.tasks.identity import split_of
from ml_data.tasks.model import Annotation

#: The class of a task without any label: unlabelled tasks are spread like a class of their own,
#: so every split keeps its share of them (and its share of tasks).
UNLABELLED: str | None = None


class SplitItem(NamedTuple):
    """What a split decision needs of one task."""

    #: the classes among the task's selected annotations
    labels: frozenset[str] = frozenset()
    #: a hash of the task's group value (None: the task is a group of its own)
    group: str | None = None


def task_labels(annotations: Iterable[Annotation]) -> frozenset[str]:
    """The class names of the annotations' regions: every ``*labels``, ``choices`` and
    ``taxonomy`` value (a taxonomy path reads as ``a/b``).

    >>> from ml_data.tasks.model import Region
    >>> region = Region(None, "label", "image", "rectanglelabels", {"rectanglelabels": ["cat"]})
    >>> sorted(task_labels([Annotation(1, (region,))]))
    ['cat']
    """
    found: set[str] = set()
    for annotation in annotations:
        for region in annotation.result:
            for _key, values in value_labels(region.value):
                found.update(name for name in map(label_name, values) if name is not None)
    return frozenset(found)


def group_value(data: Any, key: str) -> str | None:
    """A hash of ``data[key]`` (any JSON value), or None when the task has no such value: the
    hash, not the value, is what the split is decided by (and what the manifest never shows)."""
    if not isinstance(data, Mapping) or data.get(key) is None:
        return None
    return hashlib.sha256(dumps(data[key], sort_keys=True)).hexdigest()[:32]


def _unit_key(task_id: str, item: SplitItem) -> str:
    return f"group:{item.group}" if item.group is not None else task_id


def _order(unit: str) -> bytes:
    """A deterministic order unrelated to ids (ids grow with time: placing them in id order
    would put old and new tasks in different splits)."""
    return hashlib.sha256(f"ml-data-split-order:{unit}".encode()).digest()


def assign_splits(
    items: Mapping[str, SplitItem],
    fractions: Mapping[str, float],
    previous: Mapping[str, str] | None = None,
    *,
    stratify: bool = False,
) -> dict[str, str]:
    """Each task id of ``items`` -> its split among ``fractions`` (names in order -> fractions
    adding up to 1).

    Without ``stratify``, a unit (a group, or a task without one) goes by the hash of its key, as
    :func:`~ml_data.tasks.identity.split_of`: stable by construction. With ``stratify``, a unit
    of which some task is in ``previous`` (task id -> the split an earlier dataset gave it) keeps
    that split (the one most of its earlier tasks had); the others, in hash order, rarest class
    first, each go to the split missing the most of their rarest class (then of all their
    classes, then of tasks).

    >>> items = {str(i): SplitItem(frozenset({"rare" if i % 10 == 0 else "common"})) for i in range(100)}
    >>> splits = assign_splits(items, {"train": 0.8, "val": 0.2}, stratify=True)
    >>> sum(1 for i in range(0, 100, 10) if splits[str(i)] == "val")
    2
    """
    units: dict[str, list[str]] = {}
    for task_id, item in items.items():
        units.setdefault(_unit_key(task_id, item), []).append(task_id)
    if not stratify:
        return {task_id: split_of(unit, fractions) for unit, members in units.items() for task_id in members}

    names = list(fractions)
    earlier = {task_id: name for task_id, name in (previous or {}).items() if name in fractions}

    def classes(task_id: str) -> Iterable[str | None]:
        return items[task_id].labels or (UNLABELLED,)

    totals: Counter[str | None] = Counter(label for task_id in items for label in classes(task_id))
    # What each split still misses, in tasks: of each class, and of all tasks.
    missing = {name: {label: fractions[name] * count for label, count in totals.items()} for name in names}
    missing_tasks = {name: fractions[name] * len(items) for name in names}
    result: dict[str, str] = {}
    fresh: list[tuple[str, list[str]]] = []

    def place(members: list[str], name: str) -> None:
        for task_id in members:
            result[task_id] = name
            missing_tasks[name] -= 1
            for label in classes(task_id):
                missing[name][label] -= 1

    for unit, members in units.items():
        kept = Counter(earlier[task_id] for task_id in members if task_id in earlier)
        if kept:
            # Most of the unit's earlier tasks; a tie goes to the split named first.
            place(members, max(names, key=lambda name: (kept[name], -names.index(name))))
        else:
            fresh.append((unit, members))

    def rarity(label: str | None) -> tuple[int, bool, str]:
        return (totals[label], label is None, label or "")

    def rarest(members: list[str]) -> str | None:
        return min((label for task_id in members for label in classes(task_id)), key=rarity)

    def need(name: str, first: str | None, counts: Counter[str | None]) -> tuple[float, float, float, int]:
        want = missing[name]
        return (
            want[first],
            sum(want[label] * count for label, count in counts.items()),
            missing_tasks[name],
            -names.index(name),
        )

    fresh.sort(key=lambda entry: (rarity(rarest(entry[1])), _order(entry[0])))
    for _unit, members in fresh:
        first = rarest(members)
        counts = Counter(label for task_id in members for label in classes(task_id))
        place(members, max(names, key=lambda name: need(name, first, counts)))
    return result


__all__ = ["UNLABELLED", "SplitItem", "assign_splits", "group_value", "task_labels"]
