"""CSV and TSV: one row per exported annotation, the columns the union of every row's keys
(sorted), nested values as compact JSON, strings quoted and numbers not.

Task data keys that collide with a control name become ``_data_<key>`` in every row (the control
keeps the bare name), as Label Studio does. Two passes over the export, so the header is complete
without holding rows in memory.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from ml_data.converters.base import Context, annotation_outputs, annotator, prettify
from ml_data.converters.json_formats import records
from ml_data.converters.label_config import LabelConfig
from ml_data.converters.model import Annotation, Task

_FIXED = ("annotator", "annotation_id", "created_at", "updated_at", "lead_time")


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _transcript(messages: Any) -> str:
    lines = []
    for message in messages if isinstance(messages, list) else []:
        if not isinstance(message, dict):
            continue
        role, content = str(message.get("role", "")), str(message.get("content", ""))
        lines.append((f"{role}: {content}" if content else f"{role}:") if role else content)
    return "\n".join(lines)


def _row(task: Task, annotation: Annotation | None, config: LabelConfig | None, colliding: set[str]) -> dict:
    row: dict[str, Any] = {}
    if task.id is not None:
        row["id"] = task.id
    outputs = annotation_outputs(annotation, config) if annotation is not None else {}
    for name, values in outputs.items():
        pretty = prettify(values)
        row[name] = pretty if isinstance(pretty, str) else _compact(pretty)
        if any(value.get("type") in ("Chat", "chatmessage") for value in values):
            row[f"{name}_transcript"] = _transcript(pretty)
    for key, value in task.data.items():
        column = f"_data_{key}" if key in colliding else key
        row[column] = _compact(value) if isinstance(value, dict | list) else value
    row["annotator"] = annotator(annotation, int_id=False)
    row["annotation_id"] = annotation.id if annotation else None
    row["created_at"] = annotation.created_at if annotation else None
    row["updated_at"] = annotation.updated_at if annotation else None
    row["lead_time"] = annotation.lead_time if annotation else None
    if "agreement" in task.raw:
        row["agreement"] = task.raw["agreement"]
    if annotation is not None and annotation.history:
        row["history"] = _compact(annotation.history)
    return row


class TabularFormat:
    def __init__(self, name: str, delimiter: str, filename: str) -> None:
        self.name = name
        self.delimiter = delimiter
        self.filename = filename

    def check(self, config: LabelConfig | None) -> str | None:
        return None

    def write(self, context: Context, out: Path) -> None:
        # Pass 1: every column, and which data keys collide with control names.
        data_keys: set[str] = set()
        other_keys: set[str] = set(_FIXED)
        silent = Context(
            context.tasks, context.config, context.options, type(context.report)(self.name, out)
        )  # no progress
        control_keys: set[str] = set()
        for task, annotation in records(silent):
            data_keys.update(task.data)
            if annotation is not None:
                control_keys.update(annotation_outputs(annotation, context.config))
            other_keys.update(key for key in _row(task, annotation, context.config, set()) if key not in task.data)
        colliding = data_keys & control_keys
        other_keys |= control_keys
        columns = (data_keys - colliding) | {f"_data_{key}" for key in colliding} | other_keys
        # Pass 2: the rows.
        with open(out / self.filename, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(
                handle,
                fieldnames=sorted(columns),
                quoting=csv.QUOTE_NONNUMERIC,
                delimiter=self.delimiter,
                lineterminator="\n",
            )
            writer.writeheader()
            for task, annotation in records(context):
                writer.writerow(_row(task, annotation, context.config, colliding))
                context.report.items_written += 1


CSV = TabularFormat("csv", ",", "result.csv")
TSV = TabularFormat("tsv", "\t", "result.tsv")
