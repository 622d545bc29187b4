"""CSV and TSV: one row per exported annotation, the columns the union of every row's keys
(sorted), nested values as compact JSON, strings quoted and numbers not.

Task data keys that collide with a control name become ``_data_<key>`` in every row (the control
keeps the bare name), as Label Studio does. Time series read from a URL and labelled with
``TimeSeriesLabels`` are also written back, one CSV per task under ``timeseries/``, with a label
column (:mod:`ml_data.converters.timeseries`). Two passes over the export, so the header is complete
without holding rows in memory.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import orjson

from ml_data.converters.base import Context, FormatBase, annotation_outputs, annotator, prettify
from ml_data.converters.json_formats import records
from ml_data.converters.timeseries import SeriesLabeller
from ml_data.tasks.label_config import LabelConfig
from ml_data.tasks.model import Annotation, Task

_FIXED = ("annotator", "annotation_id", "created_at", "updated_at", "lead_time")


def _compact(value: Any) -> str:
    try:
        return orjson.dumps(value).decode("utf-8")
    except TypeError:  # e.g. integers beyond 64 bits, which orjson refuses
        # allow_nan=False: orjson writes NaN as null; this one refuses it rather than write NaN.
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _transcript(messages: Any) -> str:
    lines = []
    for message in messages if isinstance(messages, list) else []:
        if not isinstance(message, dict):
            continue
        role, content = str(message.get("role", "")), str(message.get("content", ""))
        lines.append((f"{role}: {content}" if content else f"{role}:") if role else content)
    return "\n".join(lines)


def _columns(task: Task, annotation: Annotation | None, config: LabelConfig | None) -> tuple[dict, dict, dict]:
    """A row in three parts: the annotation's controls, the task data, the fixed columns."""
    outputs: dict[str, Any] = {}
    for name, values in (annotation_outputs(annotation, config) if annotation is not None else {}).items():
        pretty = prettify(values)
        outputs[name] = pretty if isinstance(pretty, str) else _compact(pretty)
        if any(value.get("type") in ("Chat", "chatmessage") for value in values):
            outputs[f"{name}_transcript"] = _transcript(pretty)
    data = {
        key: _compact(value) if isinstance(value, dict | list) else _cell(value) for key, value in task.data.items()
    }
    fixed: dict[str, Any] = {
        "annotator": annotator(annotation, int_id=False),
        "annotation_id": annotation.id if annotation else None,
        "created_at": annotation.created_at if annotation else None,
        "updated_at": annotation.updated_at if annotation else None,
        "lead_time": annotation.lead_time if annotation else None,
    }
    if "agreement" in task.raw:
        fixed["agreement"] = task.raw["agreement"]
    if annotation is not None and annotation.history:
        fixed["history"] = _compact(annotation.history)
    if task.id is not None:
        outputs = {"id": task.id, **outputs}
    return outputs, data, {key: _cell(value) for key, value in fixed.items()}


def _cell(value: Any) -> Any:
    """A scalar as a cell: NaN and infinities (which an export may hold) are empty, never "nan"."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _spool_line(parts: tuple[dict, dict, dict]) -> bytes:
    try:
        return orjson.dumps(parts) + b"\n"
    except TypeError:
        return json.dumps(parts, ensure_ascii=False, allow_nan=False).encode("utf-8") + b"\n"


class TabularFormat(FormatBase):
    keeps_task_data = True

    def __init__(self, name: str, delimiter: str, filename: str) -> None:
        self.name = name
        self.delimiter = delimiter
        self.filename = filename

    def check(self, config: LabelConfig | None) -> str | None:
        return None

    def write(self, context: Context, out: Path) -> None:
        # One read of the export: rows go to a spool file while the columns are collected, since
        # the header (every row's keys) must be written before the first row.
        data_keys: set[str] = set()
        control_keys: set[str] = set()
        other_keys: set[str] = set(_FIXED)
        spool_path = out / ".rows.jsonl"
        series = SeriesLabeller(context, out)
        with open(spool_path, "wb") as spool:
            for task, annotation in records(context):
                with context.guard(task.id):
                    outputs, data, fixed = _columns(task, annotation, context.config)
                    line = _spool_line((outputs, data, fixed))
                    # before the row: a series that cannot be labelled leaves its task out whole
                    series.write(task, annotation)
                    control_keys.update(outputs)
                    data_keys.update(data)
                    other_keys.update(fixed)
                    spool.write(line)
        colliding = data_keys & (control_keys - {"id"})
        columns = (data_keys - colliding) | {f"_data_{key}" for key in colliding} | control_keys | other_keys
        with open(out / self.filename, "w", encoding="utf-8", newline="") as handle, open(spool_path, "rb") as spool:
            writer = csv.DictWriter(
                handle,
                fieldnames=sorted(columns),
                quoting=csv.QUOTE_NONNUMERIC,
                delimiter=self.delimiter,
                lineterminator="\n",
            )
            writer.writeheader()
            for line in spool:
                outputs, data, fixed = orjson.loads(line)
                if colliding:
                    data = {f"_data_{key}" if key in colliding else key: value for key, value in data.items()}
                # The order Label Studio writes them in, so the same key wins when names clash.
                writer.writerow({**outputs, **data, **fixed})
                context.report.items_written += 1
        spool_path.unlink()


CSV = TabularFormat("csv", ",", "result.csv")
TSV = TabularFormat("tsv", "\t", "result.tsv")
