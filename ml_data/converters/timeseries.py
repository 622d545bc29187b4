"""Time series labelled row by row: the CSV of a ``<TimeSeries valueType="url">`` task written back
with a label column, from its ``TimeSeriesLabels`` ranges.

The file is read as Label Studio's editor reads it: cells split by ``sep`` (``,`` by default;
``tab``, ``space``, ``comma``, ``dot`` and ``auto`` as aliases), the time in ``timeColumn`` (its
name in any case, or its index in a file without a header), row numbers 0, 1, 2, ... without
one. Times are numbers, or with ``timeFormat`` dates parsed by that strftime pattern into
milliseconds since 1970 (what the editor stores as a range's start and end), read as UTC where
the pattern has no zone.

A row is labelled by every range with ``start <= time <= end``; an instant range (``start ==
end``) labels the one row nearest to it. Where ranges overlap, the later region of the
annotation's result wins, and a warning names the task and the regions. Several labels of one
region are joined by ``|``; a row no range covers has an empty label.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ml_data.converters.base import Context
from ml_data.converters.images import UniqueNames
from ml_data.errors import InvalidExport
from ml_data.fsutil import atomic_file, safe_filename
from ml_data.redaction import redact_url
from ml_data.tasks.label_config import LabelConfig
from ml_data.tasks.model import Annotation, Task

#: the folder of a dataset that holds the labelled series
FOLDER = "timeseries"
_SEPARATORS = {"tab": "\t", "\\t": "\t", "space": " ", "comma": ",", "dot": "."}
_LABEL_JOIN = "|"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: d3's time directives where Python's differ: milliseconds (``%f`` reads 1-6 digits as a
#: fraction of a second) and a numeric zone
_D3_DIRECTIVES = {"%L": "%f", "%Z": "%z", "%e": "%d"}


@dataclass(frozen=True)
class Series:
    """A ``<TimeSeries valueType="url">`` object and the ``TimeSeriesLabels`` controls on it."""

    name: str
    key: str
    controls: tuple[str, ...]
    time_column: str | None
    sep: str
    time_format: str | None


@dataclass(frozen=True)
class Range:
    start: float
    end: float
    labels: str
    region: Any
    control: str


def series_of(config: LabelConfig | None) -> list[Series]:
    """The time series objects of a config that are read from a URL and have labels on them."""
    if config is None:
        return []
    found = []
    labelled = config.controls_on(("TimeSeriesLabels",), ("TimeSeries",))
    for name, controls in labelled.items():
        tag = config.objects[name]
        if (tag.value_type or "url").lower() != "url" or not tag.value_key:
            continue
        attributes = tag.attributes
        found.append(
            Series(
                name=name,
                key=tag.value_key,
                controls=tuple(controls),
                time_column=attributes.get("timeColumn") or None,
                sep=_separator(attributes.get("sep") or ","),
                time_format=attributes.get("timeFormat") or None,
            )
        )
    return found


def _separator(sep: str) -> str:
    """Label Studio's reading of ``sep``: an alias, else its first character (``auto``: sniffed)."""
    if len(sep) > 1:
        return "auto" if sep == "auto" else _SEPARATORS.get(sep, sep[0])
    return sep


def ranges_of(annotation: Annotation, series: Series) -> dict[str, list[Range]]:
    """The annotation's ranges on ``series``, by control, in result order."""
    found: dict[str, list[Range]] = {control: [] for control in series.controls}
    for region in annotation.result:
        if region.from_name not in found or region.to_name not in (series.name, ""):
            continue
        start, end = _number(region.value.get("start")), _number(region.value.get("end"))
        labels = region.value.get("timeserieslabels") or region.value.get("labels") or []
        if start is None or end is None:
            raise InvalidExport(f"region {region.id} of {region.from_name!r} has no numeric start and end")
        text = _LABEL_JOIN.join(str(label) for label in labels)
        found[region.from_name].append(Range(min(start, end), max(start, end), text, region.id, region.from_name))
    return found


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def time_parser(series: Series) -> Any:
    """Text -> the number a range's start and end are compared with."""
    pattern = series.time_format
    if pattern is None:
        return lambda text: float(text)
    if pattern.strip() == "%Q":  # d3: milliseconds since 1970
        return lambda text: float(text)
    if pattern.strip() == "%s":  # d3: seconds since 1970
        return lambda text: float(text) * 1000
    python = pattern
    for d3, ours in _D3_DIRECTIVES.items():
        python = python.replace(d3, ours)

    def parse(text: str) -> float:
        moment = datetime.strptime(text, python)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return (moment - _EPOCH).total_seconds() * 1000

    return parse


class SeriesLabeller:
    """Writes ``timeseries/<name>.csv`` for each task's labelled series, from the first exported
    annotation of the task (one file per task and series object)."""

    def __init__(self, context: Context, out: Path) -> None:
        self.context = context
        self.out = out
        self.series = series_of(context.config)
        self.names = UniqueNames()
        self.done: dict[str, int] = {}
        if self.series and context.media.local_path is None:
            context.report.warn("no media lookup: the time series files were not read nor labelled")
            self.series = []

    def write(self, task: Task, annotation: Annotation | None) -> None:
        """Label the task's series from ``annotation`` (only the first one of each task)."""
        if not self.series or annotation is None:
            return
        key = str(task.id)
        self.done[key] = self.done.get(key, 0) + 1
        if self.done[key] > 1:
            if self.done[key] == 2:
                warning = f"task {task.id}: several annotations, its time series labelled from the first"
                self.context.report.warn(warning)
            return
        taken: set[str] = set()
        written: list[Path] = []
        warnings: list[str] = []
        try:  # a task's series are all written or none: a later one failing takes back the others
            for series in self.series:
                url = task.data.get(series.key)
                if not isinstance(url, str) or not url:
                    raise InvalidExport(f"task data has no time series URL under {series.key!r}", task_id=task.id)
                local = self.context.media.local_path(url, task.id)  # type: ignore[misc]
                name = redact_url(url)
                if local is None:
                    raise InvalidExport(
                        f"the time series could not be resolved to a local file: {name}", task_id=task.id
                    )
                stem = self.names.stem(url, task.id)
                if len(self.series) > 1:
                    stem = _series_stem(stem, series.name, taken)
                (self.out / FOLDER).mkdir(exist_ok=True)
                target = self.out / FOLDER / f"{stem}.csv"
                found = ranges_of(annotation, series)
                overlaps = label_file(Path(local), target, series, found, name=name, task_id=task.id)
                written.append(target)
                warnings += [
                    f"task {task.id}: {control} regions {', '.join(map(str, regions))} overlap on {rows} rows of "
                    f"{name}; the later region's label is written"
                    for control, regions, rows in overlaps
                ]
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise
        for warning in warnings:
            self.context.report.warn(warning)


def _series_stem(stem: str, name: str, taken: set[str]) -> str:
    """``<stem>__<object name>``, a safe file name (the config's names hold any text: ``/``,
    ``..``, 300 characters), distinct among the task's series."""
    part = safe_filename(name, fallback="series").encode("utf-8")[:40].decode("utf-8", "ignore")
    found = base = f"{stem}__{part}"  # within a file name's 255 bytes: the stem is at most 120
    number = 1
    while found in taken:
        number += 1
        found = f"{base}__{number}"
    taken.add(found)
    return found


def label_file(
    source: Path, target: Path, series: Series, ranges: dict[str, list[Range]], *, name: str, task_id: Any
) -> list[tuple[str, list[Any], int]]:
    """Write ``source`` at ``target`` (atomically) with a label column per control; returns the
    overlaps found: (control, regions, rows covered by more than one)."""
    text = _read_text(source, name, task_id)
    sep = _sniffed(text) if series.sep == "auto" else series.sep
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=sep))
    except csv.Error as exc:  # an unclosed quote makes the rest of the file one cell, past the limit
        raise InvalidExport(f"the time series {name} is not CSV: {exc}", url=name, task_id=task_id) from None
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()
    if not rows:
        raise InvalidExport(f"the time series {name} is empty", url=name, task_id=task_id)
    header, body = _header(rows)
    times = _times(body, header, series, name, task_id)
    columns: list[str] = []
    labels: list[list[str]] = []
    overlaps = []
    for control, found in ranges.items():
        column = "label" if len(ranges) == 1 else control
        while column in header or column in columns:
            column = "_" + column
        columns.append(column)
        chosen, overlap = _assign(times, found)
        names = ["", *(item.labels for item in found)]
        labels.append([names[index + 1] for index in chosen])
        if overlap is not None:
            overlaps.append((control, *overlap))
    with atomic_file(target) as temporary, open(temporary, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=sep, lineterminator="\n")
        writer.writerow([*header, *columns])
        for index, row in enumerate(body):
            writer.writerow([*row, *(column[index] for column in labels)])
    return overlaps


def _read_text(source: Path, name: str, task_id: Any) -> str:
    try:
        return source.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidExport(f"cannot read the time series {name}: {exc}", url=name, task_id=task_id) from None


def _sniffed(text: str) -> str:
    try:
        return csv.Sniffer().sniff(text[:65536], delimiters=",;\t |").delimiter
    except csv.Error:
        return ","


def _header(rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    """The header and the data rows; a file whose first row is all numbers has no header (its
    columns are then named by index, as the editor names them)."""
    first = rows[0]
    if all(_is_number(cell) for cell in first):
        return [str(index) for index in range(len(first))], rows
    return first, rows[1:]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _times(body: Sequence[list[str]], header: list[str], series: Series, name: str, task_id: Any) -> np.ndarray:
    if series.time_column is None:
        return np.arange(len(body), dtype=np.float64)
    lowered = [column.strip().lower() for column in header]
    wanted = series.time_column.strip().lower()
    if wanted in lowered:
        index = lowered.index(wanted)
    elif wanted.isdigit() and int(wanted) < len(header):
        index = int(wanted)
    else:
        raise InvalidExport(
            f"the time series {name} has no column {series.time_column!r} (timeColumn); its columns: "
            f"{', '.join(header[:20])}",
            url=name,
            task_id=task_id,
        )
    cells = [row[index] if index < len(row) else "" for row in body]
    if series.time_format is None:
        try:  # numbers: numpy parses the column at once; the loop below finds a bad cell
            times = np.array(cells, dtype=np.float64)
            if np.isfinite(times).all():
                return times
        except ValueError:
            pass
    parse = time_parser(series)
    times = np.empty(len(body), dtype=np.float64)
    for number, row in enumerate(body):
        cell = row[index].strip() if index < len(row) else ""
        try:
            times[number] = parse(cell)
        except ValueError:
            how = f"a time in the format {series.time_format!r}" if series.time_format else "a number"
            raise InvalidExport(
                f"the time series {name}, data row {number + 1}: {cell[:40]!r} in {header[index]!r} is not {how}",
                url=name,
                task_id=task_id,
            ) from None
    return times


def _assign(times: np.ndarray, ranges: Sequence[Range]) -> tuple[np.ndarray, tuple[list[Any], int] | None]:
    """Each row's range (its index in ``ranges``, -1 for none): the later range wins; and the
    overlap (the regions involved, the rows they share), if any.

    The times are sorted once, so a range costs the rows it covers (found by binary search), not
    a pass over the whole file: a task of 100,000 short ranges on a million rows stays quick."""
    order = np.argsort(times, kind="stable")
    ordered = times[order]
    chosen = np.full(len(times), -1, dtype=np.int64)
    shared = np.zeros(len(times), dtype=bool)
    involved: list[Any] = []
    seen: set[Any] = set()  # the regions in ``involved``, looked up without a pass over it
    for index, item in enumerate(ranges):
        if item.start == item.end:
            rows = _nearest(times, order, ordered, item.start)
        else:
            low = np.searchsorted(ordered, item.start, side="left")
            high = np.searchsorted(ordered, item.end, side="right")
            rows = order[low:high]
        earlier = chosen[rows]
        clash = earlier >= 0
        if clash.any():
            shared[rows[clash]] = True
            for owner in np.unique(earlier[clash]):
                region = ranges[owner].region
                if _key(region) not in seen:
                    seen.add(_key(region))
                    involved.append(region)
            seen.add(_key(item.region))
            involved.append(item.region)
        chosen[rows] = index
    return chosen, ((involved, int(shared.sum())) if involved else None)


def _key(region: Any) -> Any:
    """A region id as a set member (an id that is a list is compared by its text)."""
    try:
        hash(region)
    except TypeError:
        return ("unhashable", repr(region))
    return region


def _nearest(times: np.ndarray, order: np.ndarray, ordered: np.ndarray, moment: float) -> np.ndarray:
    """The row nearest to ``moment`` (the first such row), as ``np.argmin(abs(times - moment))``
    picks it, from the sorted times' two neighbours of ``moment``; no row for no times."""
    if not len(times):
        return order[:0]
    if np.isnan(ordered[-1]):  # argmin takes the first NaN: kept as it was
        return np.array([int(np.argmin(np.abs(times - moment)))])
    place = int(np.searchsorted(ordered, moment, side="left"))
    candidates = []
    for at in (place - 1, place):
        if 0 <= at < len(ordered):
            value = ordered[at]
            first = int(order[np.searchsorted(ordered, value, side="left")])  # the first row of that time
            candidates.append((abs(value - moment), first))
    return np.array([min(candidates)[1]])


__all__ = ["FOLDER", "Range", "Series", "SeriesLabeller", "label_file", "ranges_of", "series_of", "time_parser"]
