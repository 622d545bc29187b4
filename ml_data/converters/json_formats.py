"""JSON (tasks as exported, Label Studio's common format) and JSON_MIN (one flat record per
annotation: the task data, then each control's result, prettified)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ml_data.converters.base import Context, FormatBase, annotation_outputs, annotator, prettify, select_annotations
from ml_data.jsonio import dumps
from ml_data.tasks.label_config import LabelConfig
from ml_data.tasks.model import Annotation, Task


class _JsonListWriter:
    """Writes a JSON list one item at a time (never the whole list in memory)."""

    def __init__(self, path: Path) -> None:
        self._handle = open(path, "wb")
        self._first = True
        self._handle.write(b"[\n")

    def add(self, item: Any) -> None:
        if not self._first:
            self._handle.write(b",\n")
        self._handle.write(dumps(item, indent=True, non_str_keys=True))
        self._first = False

    def close(self) -> None:
        self._handle.write(b"\n]\n")
        self._handle.close()


class JsonFormat(FormatBase):
    """``result.json``: the tasks as exported. With an annotation choice other than ``all`` (or
    with predictions off), each task's ``annotations`` holds only the selected ones."""

    keeps_task_data = True

    name = "json"

    def check(self, config: LabelConfig | None) -> str | None:
        return None

    def write(self, context: Context, out: Path) -> None:
        writer = _JsonListWriter(out / "result.json")
        try:
            for task in context.each_task():
                with context.guard(task.id):
                    raw = dict(task.raw)
                    if context.options.annotations != "all":
                        selected, _ = select_annotations(task, context.options)
                        raw["annotations"] = [a.raw for a in selected if not a.is_prediction]
                    writer.add(raw)
                    context.report.items_written += 1
        finally:
            writer.close()


def min_record(task: Task, annotation: Annotation | None, config: LabelConfig | None, *, int_id: bool) -> dict:
    """The JSON_MIN record of one annotation (or of a task without annotations)."""
    record: dict[str, Any] = dict(task.data)
    if task.id is not None:
        record["id"] = task.id
    if annotation is not None:
        for name, values in annotation_outputs(annotation, config).items():
            record[name] = prettify(values)
    record["annotator"] = annotator(annotation, int_id=int_id)
    record["annotation_id"] = annotation.id if annotation else None
    record["created_at"] = annotation.created_at if annotation else None
    record["updated_at"] = annotation.updated_at if annotation else None
    record["lead_time"] = annotation.lead_time if annotation else None
    if "agreement" in task.raw:
        record["agreement"] = task.raw["agreement"]
    return record


def records(context: Context):  # type: ignore[no-untyped-def]
    """(task, annotation or None) pairs to export, applying the selection; skips are reported.

    A task without annotations yields one pair with None (its data alone); a task whose
    annotations were all cancelled, or that has no ground truth when asked for, yields nothing.
    """
    config = context.config
    unknown: set[str] = set()
    for task in context.each_task():
        selected, reason = select_annotations(task, context.options)
        if reason is not None:
            context.report.skip(task.id, reason)
            continue
        if not selected:
            yield task, None
        for annotation in selected:
            if config is not None and config.controls:
                unknown.update(
                    region.from_name
                    for region in annotation.result
                    if region.type != "chatmessage" and config.control_for(region.from_name) is None
                )
            yield task, annotation
    for name in sorted(unknown):
        context.report.warn(f"results of {name!r}, a control the labeling config does not have, were left out")


class JsonMinFormat(FormatBase):
    """``result.json``: a list of flat records, one per exported annotation."""

    keeps_task_data = True

    name = "json-min"

    def check(self, config: LabelConfig | None) -> str | None:
        return None

    def write(self, context: Context, out: Path) -> None:
        writer = _JsonListWriter(out / "result.json")
        try:
            for task, annotation in records(context):
                with context.guard(task.id):
                    writer.add(min_record(task, annotation, context.config, int_id=True))
                    context.report.items_written += 1
        finally:
            writer.close()
