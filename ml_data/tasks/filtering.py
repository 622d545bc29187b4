"""Which tasks of an export a dataset takes, and which of their regions: :class:`TaskFilter`.

The user's words are parsed once (:func:`parse_ids`, :func:`parse_since`, :func:`parse_names`),
each into one canonical form, so that two spellings of the same filter make the same dataset.
:meth:`TaskFilter.apply` then judges one raw task at a time, with no I/O: it keeps the task (with
other annotators' annotations and other labels' regions taken out) or names the filter that left
it out. What Label Studio can filter itself (a Data Manager view, finished tasks) is asked of it
by the pipeline; what is left is judged here.
"""

from __future__ import annotations

import datetime
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ml_data.errors import ConfigurationError

#: The values of ``finished`` and ``reviewed``: keep only such tasks, or leave them out.
ONLY_OR_EXCLUDE = ("only", "exclude")
#: Review outcomes Label Studio records in an annotation's ``last_action``.
_REVIEW_ACTIONS = frozenset({"accepted", "rejected", "fixed_and_accepted"})
#: Task ids are Label Studio's database ids: positive 64-bit integers.
_MAX_ID = 2**63 - 1
_RANGE = re.compile(r"\s*(\d{1,19})\s*(?:-\s*(\d{1,19})\s*)?\Z")
#: At most this many ranges (a filter is typed by a person, not generated from a database).
MAX_RANGES = 10_000

IdRanges = tuple[tuple[int, int], ...]


def parse_ids(text: str, *, option: str = "ids") -> IdRanges:
    """``1-900,1200`` -> ``((1, 900), (1200, 1200))``: ranges sorted, overlapping or adjacent
    ones merged, so every spelling of one set of ids reads the same.

    >>> parse_ids("1200, 1-900,901")
    ((1, 901), (1200, 1200))
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigurationError(f"{option}: expected task ids such as 1-900,1200, got {text!r}")
    parts = text.split(",")
    if len(parts) > MAX_RANGES:
        raise ConfigurationError(f"{option}: more than {MAX_RANGES} ranges")
    ranges = []
    for part in parts:
        match = _RANGE.match(part)
        if match is None:
            raise ConfigurationError(f"{option}: {part.strip()!r} is not a task id or a range such as 1-900")
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) is not None else low
        if low < 1 or high > _MAX_ID:
            raise ConfigurationError(f"{option}: task ids are from 1 to {_MAX_ID}, got {part.strip()!r}")
        if high < low:
            raise ConfigurationError(f"{option}: the range {part.strip()!r} ends before it starts")
        ranges.append((low, high))
    merged: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return tuple(merged)


def format_ids(ranges: IdRanges) -> str:
    """The canonical text of :func:`parse_ids`'s ranges (``1-901,1200``)."""
    return ",".join(str(low) if low == high else f"{low}-{high}" for low, high in ranges)


def in_ranges(task_id: Any, ranges: IdRanges) -> bool:
    if isinstance(task_id, bool) or not isinstance(task_id, int):
        return False
    return any(low <= task_id <= high for low, high in ranges)


def parse_since(text: str, *, option: str = "since") -> datetime.datetime:
    """An ISO date or date and time -> an aware datetime; without a zone it is UTC (as Label
    Studio stores its times).

    >>> parse_since("2026-03-01").isoformat()
    '2026-03-01T00:00:00+00:00'
    >>> parse_since("2026-03-01T12:30+02:00").isoformat()
    '2026-03-01T12:30:00+02:00'
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigurationError(f"{option}: expected an ISO date such as 2026-03-01, got {text!r}")
    try:
        moment = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigurationError(
            f"{option}: {text!r} is not an ISO date or date and time (2026-03-01, 2026-03-01T12:00:00Z)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.timezone.utc)


def _moment(value: Any) -> datetime.datetime | None:
    """A time as Label Studio writes it (``2026-03-01T12:00:00.123456Z``), or None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.timezone.utc)


def parse_names(value: str | Iterable[str], *, option: str) -> tuple[str, ...]:
    """``"cat, dog"`` (or a list) -> ``("cat", "dog")``: stripped, empty ones refused, duplicates
    removed, the order kept."""
    items = value.split(",") if isinstance(value, str) else value
    names: dict[str, None] = {}
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise ConfigurationError(f"{option}: expected names separated by commas, got {value!r}")
        names[item.strip()] = None
    if not names:
        raise ConfigurationError(f"{option}: expected at least one name")
    return tuple(names)


def value_labels(value: Any) -> list[tuple[str, list[Any]]]:
    """The label lists of one result's ``value``: (key, labels) for every ``*labels``, ``choices``
    and ``taxonomy`` key; a taxonomy path reads as ``a/b``."""
    if not isinstance(value, Mapping):
        return []
    return [
        (key, items)
        for key, items in value.items()
        if (key.endswith("labels") or key in ("choices", "taxonomy")) and isinstance(items, list)
    ]


def label_name(item: Any) -> str | None:
    if isinstance(item, str):
        return item
    if isinstance(item, list) and all(isinstance(part, str) for part in item):
        return "/".join(item)
    return None


@dataclass
class FilterCounts:
    """What the filters left out: tasks by the filter that left each out, and the regions (or
    label values) of other labels taken out of the tasks kept, by label."""

    tasks: Counter[str] = field(default_factory=Counter)
    regions: Counter[str] = field(default_factory=Counter)

    def add(self, other: FilterCounts) -> None:
        self.tasks.update(other.tasks)
        self.regions.update(other.regions)

    def as_dict(self) -> dict[str, Any]:
        return {"tasks_left_out": dict(self.tasks), "regions_dropped": dict(self.regions)}


@dataclass(frozen=True)
class TaskFilter:
    """The filters judged on each task as it is read (Label Studio's own are asked of it first).

    ``annotators``: emails (in lower case) or user ids (as text); an annotation counts when its
    ``completed_by`` is one of them. ``labels``: a task is kept when one of its annotations (and,
    with ``predictions``, predictions) has a region with one of them, and regions of other labels
    are taken out.

    >>> keep = TaskFilter(labels=frozenset({"cat"}))
    >>> task = {"id": 1, "annotations": [{"result": [
    ...     {"id": "a", "value": {"rectanglelabels": ["cat"]}},
    ...     {"id": "b", "value": {"rectanglelabels": ["dog"]}}]}]}
    >>> counts = FilterCounts()
    >>> [r["id"] for r in keep.apply(task, counts)["annotations"][0]["result"]], dict(counts.regions)
    (['a'], {'dog': 1})
    """

    ids: IdRanges | None = None
    since: datetime.datetime | None = None
    finished: str | None = None
    reviewed: str | None = None
    annotators: frozenset[str] | None = None
    labels: frozenset[str] | None = None
    predictions: bool = False

    @property
    def active(self) -> bool:
        return any(
            value is not None
            for value in (self.ids, self.since, self.finished, self.reviewed, self.annotators, self.labels)
        )

    def apply(self, raw: Mapping[str, Any], counts: FilterCounts) -> Mapping[str, Any] | None:
        """The task as the dataset takes it, or None (counted under the filter that left it out)."""
        reason = self._reason(raw)
        if reason is not None:
            counts.tasks[reason] += 1
            return None
        task: Mapping[str, Any] | None = raw
        if self.annotators is not None:
            task = self._by_annotators(raw)
            if task is None:
                counts.tasks["annotator"] += 1
                return None
        if self.labels is not None and task is not None:
            task = self._by_labels(task, counts)
            if task is None:
                counts.tasks["labels"] += 1
        return task

    def _reason(self, raw: Mapping[str, Any]) -> str | None:
        if self.ids is not None and not in_ranges(raw.get("id"), self.ids):
            return "ids"
        if self.since is not None and not self._since(raw):
            return "since"
        if self.finished is not None and finished(raw) != (self.finished == "only"):
            return "finished"
        if self.reviewed is not None and reviewed(raw) != (self.reviewed == "only"):
            return "reviewed"
        return None

    def _since(self, raw: Mapping[str, Any]) -> bool:
        assert self.since is not None
        times = [raw.get("created_at"), raw.get("updated_at")]
        for item in _annotations(raw):
            times += [item.get("created_at"), item.get("updated_at")]
        return any(moment is not None and moment >= self.since for moment in map(_moment, times))

    def _by_annotators(self, raw: Mapping[str, Any]) -> Mapping[str, Any] | None:
        assert self.annotators is not None
        kept = [item for item in _annotations(raw) if annotator_keys(item.get("completed_by")) & self.annotators]
        if not kept:
            return None
        return {**raw, "annotations": kept}

    def _by_labels(self, raw: Mapping[str, Any], counts: FilterCounts) -> Mapping[str, Any] | None:
        assert self.labels is not None
        task = dict(raw)
        found = False
        # Regions are counted for the tasks kept (those left out are counted as tasks).
        dropped = FilterCounts()
        for key in ("annotations", "predictions"):
            items = raw.get(key)
            if not isinstance(items, list):
                continue
            pruned = [self._prune(item, dropped) if isinstance(item, Mapping) else item for item in items]
            task[key] = pruned
            if key == "annotations" or self.predictions:
                found = found or any(
                    isinstance(item, Mapping) and not item.get("was_cancelled") and _has_label(item, self.labels)
                    for item in pruned
                )
        if not found:
            return None
        counts.regions.update(dropped.regions)
        return task

    def _prune(self, annotation: Mapping[str, Any], counts: FilterCounts) -> Mapping[str, Any]:
        """The annotation without other labels' values; a region left with no label goes, with the
        results that share its id (a text area beside a box) and the relations that point at it."""
        result = annotation.get("result")
        if not isinstance(result, list):
            return annotation
        assert self.labels is not None
        dropped: set[Any] = set()
        kept: list[Any] = []
        for item in result:
            lists = value_labels(item.get("value")) if isinstance(item, Mapping) else []
            if not lists:
                kept.append(item)
                continue
            value = dict(item["value"])
            for key, labels in lists:
                wanted = [label for label in labels if label_name(label) in self.labels]
                for label in labels:
                    if label_name(label) not in self.labels:
                        counts.regions[label_name(label) or repr(label)] += 1
                value[key] = wanted
            if any(value[key] for key, _labels in lists):
                kept.append({**item, "value": value})
            elif _key(item.get("id")) is not None:
                dropped.add(item.get("id"))
        if dropped:
            kept = [item for item in kept if not _refers_to(item, dropped)]
        return {**annotation, "result": kept}


def _key(value: Any) -> str | int | None:
    """A result's id (or a relation's end) as a key; None for what no region is named by (a
    list, an object: a broken export, which the format reports, not the filter)."""
    return value if isinstance(value, str | int) and not isinstance(value, bool) else None


def _refers_to(item: Any, dropped: set[Any]) -> bool:
    if not isinstance(item, Mapping):
        return False
    if item.get("type") == "relation":
        return _key(item.get("from_id")) in dropped or _key(item.get("to_id")) in dropped
    return _key(item.get("id")) in dropped


def _has_label(annotation: Mapping[str, Any], labels: frozenset[str]) -> bool:
    result = annotation.get("result")
    for item in result if isinstance(result, list) else ():
        if isinstance(item, Mapping):
            for _key, values in value_labels(item.get("value")):
                if any(label_name(value) in labels for value in values):
                    return True
    return False


def _annotations(raw: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    items = raw.get("annotations")
    return [item for item in items if isinstance(item, Mapping)] if isinstance(items, list) else []


def annotator_keys(completed_by: Any) -> frozenset[str]:
    """How an annotation names its annotator: a user id (the export's default) and, when the export
    expanded it, the email (in lower case)."""
    if isinstance(completed_by, bool):
        return frozenset()
    if isinstance(completed_by, int):
        return frozenset({str(completed_by)})
    if isinstance(completed_by, Mapping):
        keys = set()
        if isinstance(completed_by.get("id"), int):
            keys.add(str(completed_by["id"]))
        if isinstance(completed_by.get("email"), str):
            keys.add(completed_by["email"].strip().lower())
        return frozenset(keys)
    return frozenset()


def finished(raw: Mapping[str, Any]) -> bool:
    """Finished as Label Studio decides it (``is_labeled``): when the task says, that; otherwise
    (its export leaves the flag out) at least ``overlap`` (1 when not given) annotations that were
    not skipped."""
    if isinstance(raw.get("is_labeled"), bool):
        return bool(raw["is_labeled"])
    overlap = raw.get("overlap")
    needed = overlap if isinstance(overlap, int) and not isinstance(overlap, bool) and overlap > 0 else 1
    return sum(1 for item in _annotations(raw) if not item.get("was_cancelled")) >= needed


def reviewed(raw: Mapping[str, Any]) -> bool:
    """Reviewed: an annotation carries a review (``reviews``, or a review's outcome as its
    ``last_action``: accepted, rejected, fixed and accepted), or the task counts reviews."""
    if raw.get("reviewed") is True:
        return True
    for key in ("reviews_accepted", "reviews_rejected", "total_reviews"):
        count = raw.get(key)
        if isinstance(count, int) and not isinstance(count, bool) and count > 0:
            return True
    for item in _annotations(raw):
        action = item.get("last_action")
        if item.get("reviews") or (isinstance(action, str) and action in _REVIEW_ACTIONS):
            return True
    return False


__all__ = [
    "MAX_RANGES",
    "ONLY_OR_EXCLUDE",
    "FilterCounts",
    "IdRanges",
    "TaskFilter",
    "annotator_keys",
    "finished",
    "format_ids",
    "in_ranges",
    "label_name",
    "parse_ids",
    "parse_names",
    "parse_since",
    "reviewed",
    "value_labels",
]
