"""``timeline-csv``: video timeline segments (``<TimelineLabels>`` on a ``<Video>``) as one CSV per
video, ``labels/<video>.csv``, a ``frame,label`` row for each frame each label covers.

A ``timelinelabels`` result holds ``ranges: [{"start": s, "end": e}, ...]`` (frame numbers counted
from 1, both ends included: a click on one frame is ``start == end``) and its labels under
``timelinelabels``. Rows are sorted by frame, then label; a frame two regions of one label cover
is one row; frames no region covers have none (the video's length is not in the results). The
regions of every selected annotation are written together (``--annotations latest`` for one).
When the caller places media (``fetch``), the video goes beside it as ``videos/<video>.<ext>``.
"""

from __future__ import annotations

import csv
import heapq
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ml_data.converters.base import Context, FormatBase, annotated_tasks
from ml_data.converters.images import UniqueNames
from ml_data.converters.merging import different_versions
from ml_data.errors import InvalidExport
from ml_data.fsutil import atomic_file
from ml_data.tasks.label_config import LabelConfig
from ml_data.tasks.model import Annotation

#: A range's end may not pass this frame (11.5 days at 10 frames a second): a larger number is a
#: broken export, and would write rows without end.
MAX_FRAME = 10_000_000

#: Rows one video's CSV may hold (labels x frames they cover, about 1.5 GB): many labels each
#: over :data:`MAX_FRAME` frames are a broken export, not a timeline.
MAX_ROWS = 100_000_000

#: the CSV's header
COLUMNS = ("frame", "label")


def frame_number(value: Any, what: str, task_id: Any) -> int:
    """A range's ``start`` or ``end``: a whole frame number from 1 to :data:`MAX_FRAME`."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_FRAME:
        raise InvalidExport(
            f"a timelinelabels range has {what}={value!r} (a whole frame number from 1 to {MAX_FRAME})",
            task_id=task_id,
        )
    return value


def label_ranges(value: Mapping[str, Any], task_id: Any = None) -> tuple[list[str], list[tuple[int, int]]]:
    """A ``timelinelabels`` result's ``value`` -> its labels and its checked (start, end) ranges.

    >>> label_ranges({"ranges": [{"start": 3, "end": 5}], "timelinelabels": ["Movement"]})
    (['Movement'], [(3, 5)])
    """
    labels = value.get("timelinelabels")
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise InvalidExport(
            f"a timelinelabels result has timelinelabels={labels!r} (a list of labels)", task_id=task_id
        )
    ranges = value.get("ranges")
    if not isinstance(ranges, list):
        raise InvalidExport(f"a timelinelabels result has ranges={ranges!r} (a list)", task_id=task_id)
    checked = []
    for item in ranges:
        if not isinstance(item, Mapping):
            raise InvalidExport(f"a timelinelabels range is not an object: {item!r}", task_id=task_id)
        start = frame_number(item.get("start"), "start", task_id)
        end = frame_number(item.get("end"), "end", task_id)
        if end < start:
            raise InvalidExport(
                f"a timelinelabels range ends (frame {end}) before it starts ({start})", task_id=task_id
            )
        checked.append((start, end))
    return labels, checked


def frame_rows(annotations: Iterable[Annotation], controls: set[str], task_id: Any = None) -> Iterator[tuple[int, str]]:
    """(frame, label) for every frame a label covers in ``annotations``' results of ``controls``,
    sorted, each once. Only the ranges are held, never a row per frame."""
    by_label: dict[str, list[tuple[int, int]]] = {}
    for annotation in annotations:
        for region in annotation.result:
            if region.from_name not in controls or region.type.lower() != "timelinelabels":
                continue
            labels, ranges = label_ranges(region.value, task_id)
            for label in labels:
                by_label.setdefault(label, []).extend(ranges)
    merged = {label: _merged(ranges) for label, ranges in sorted(by_label.items())}
    rows = sum(end - start + 1 for ranges in merged.values() for start, end in ranges)
    if rows > MAX_ROWS:
        raise InvalidExport(
            f"the timelinelabels ranges cover {rows} (frame, label) rows, more than {MAX_ROWS}", task_id=task_id
        )
    return heapq.merge(*(_frames(ranges, label) for label, ranges in merged.items()))


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping and touching ranges joined, in order."""
    joined: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if joined and start <= joined[-1][1] + 1:
            joined[-1] = (joined[-1][0], max(joined[-1][1], end))
        else:
            joined.append((start, end))
    return joined


def _frames(ranges: list[tuple[int, int]], label: str) -> Iterator[tuple[int, str]]:
    for start, end in ranges:
        for frame in range(start, end + 1):
            yield frame, label


class TimelineCsvFormat(FormatBase):
    name = "timeline-csv"

    def check(self, config: LabelConfig | None) -> str | None:
        if config is None:
            return "TIMELINE_CSV needs the labeling config (which video the timeline labels are on)"
        if not self._targets(config):
            return "TIMELINE_CSV needs a <TimelineLabels> control on a <Video> object"
        return None

    @staticmethod
    def _targets(config: LabelConfig) -> dict[str, list[str]]:
        return config.controls_on(("TimelineLabels",), ("Video",))

    def write(self, context: Context, out: Path) -> None:
        config = context.config
        assert config is not None
        targets = self._targets(config)
        video = next(iter(targets))
        key = config.objects[video].value_key or ""
        controls = set(targets[video])
        names = UniqueNames()
        (out / "labels").mkdir()
        for task, url, selected in annotated_tasks(context, key, "video URL", non_empty=True):
            with context.guard(task.id):
                stem = names.stem(url, task.id)
                self._write_csv(out / "labels" / f"{stem}.csv", frame_rows(selected, controls, task.id))
                context.report.items_written += 1
                if context.media.places_media:
                    context.place(url, task.id, f"videos/{stem}{UniqueNames.extension(url, default='.mp4')}")

    def merge(self, relative: str, target: Path, parts: Sequence[Path]) -> None:
        """Each file is one video's: two shards writing one name differently wrote two videos of
        that name, whose rows must never be joined (an :class:`~ml_data.errors.OutputError`)."""
        raise different_versions(relative)

    @staticmethod
    def _write_csv(path: Path, rows: Iterator[tuple[int, str]]) -> None:
        """Written aside and renamed: a task whose ranges turn out broken half-way leaves no file."""
        with atomic_file(path) as partial, open(partial, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            writer.writerows(rows)


__all__ = ["COLUMNS", "MAX_FRAME", "MAX_ROWS", "TimelineCsvFormat", "frame_rows", "label_ranges"]
