"""Tasks into a Ray Dataset: a :class:`TaskDatasource` whose read tasks each take one range of
task ids from Label Studio (the ranges the chunked export of ``fetch`` asks for) or one byte range
of an export file. The driver plans the ranges and never holds the tasks themselves.

One row per task:

- ``id`` (int64), ``updated_at`` (string or null);
- ``data``, ``meta``, ``annotations``, ``predictions``: the task's JSON, as text;
- ``extra``: the task's other keys (``created_at``, ``inner_id``, ...), as JSON text, so a format
  that keeps tasks as they are (JSON, CSV) writes the same task;
- ``resources``: the URLs of the files the task references (:func:`ml_data.tasks.task_resources`).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from ray.data import Dataset, read_datasource
from ray.data.block import BlockMetadata
from ray.data.datasource import Datasource, ReadTask

from ml_data.config import Settings
from ml_data.errors import ConfigurationError, InvalidExport
from ml_data.jsonio import dumps, loads
from ml_data.labelstudio import LabelStudioClient
from ml_data.pipeline.exports import whole_export
from ml_data.tasks.filtering import IdRanges, in_ranges, parse_ids
from ml_data.tasks.label_config import parse_label_config
from ml_data.tasks.model import read_tasks as read_export
from ml_data.tasks.reader import Unreadable, array_item_spans, array_items_of, first_char
from ml_data.tasks.resources import resource_keys, task_resources

#: the columns every read gives, in order
COLUMNS = ("id", "data", "meta", "annotations", "predictions", "extra", "resources", "updated_at")
_OWN_KEYS = frozenset({"id", "data", "meta", "annotations", "predictions", "updated_at"})
SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("data", pa.string()),
        ("meta", pa.string()),
        ("annotations", pa.string()),
        ("predictions", pa.string()),
        ("extra", pa.string()),
        ("resources", pa.list_(pa.string())),
        ("updated_at", pa.string()),
    ]
)
#: tasks per read task when reading an export file
EXPORT_TASKS_PER_READ = 1000


def task_row(raw: Any, keys: list[str] | None, source: str) -> dict[str, Any]:
    """One raw task as a row; a task that is not an object with an integer id is an
    :class:`InvalidExport` naming ``source``."""
    if isinstance(raw, Unreadable):
        raise InvalidExport(f"a task in {source} cannot be read: {raw}")
    if not isinstance(raw, Mapping):
        raise InvalidExport(f"an item of {source} is not a task object")
    task_id = raw.get("id")
    if isinstance(task_id, bool) or not isinstance(task_id, int) or not -(2**63) <= task_id < 2**63:
        raise InvalidExport(f"a task in {source} has no integer id ({task_id!r}); ml-data needs Label Studio's ids")
    data = raw.get("data")
    updated_at = raw.get("updated_at")
    return {
        "id": task_id,
        "data": dumps(data).decode(),
        "meta": dumps(raw.get("meta")).decode(),
        "annotations": dumps(raw.get("annotations") or []).decode(),
        "predictions": dumps(raw.get("predictions") or []).decode(),
        "extra": dumps({key: value for key, value in raw.items() if key not in _OWN_KEYS}).decode(),
        "resources": task_resources(data, keys),
        "updated_at": updated_at if isinstance(updated_at, str) else None,
    }


def raw_task(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row back into the task dict Label Studio exported (key order aside)."""
    task: dict[str, Any] = {"id": row["id"], "data": loads(row["data"])}
    meta = loads(row["meta"])
    if meta is not None:
        task["meta"] = meta
    task["annotations"] = loads(row["annotations"])
    task["predictions"] = loads(row["predictions"])
    task.update(loads(row["extra"]))
    if row.get("updated_at") is not None:
        task["updated_at"] = row["updated_at"]
    return task


def rows_table(tasks: Iterable[Any], keys: list[str] | None, source: str) -> pa.Table:
    rows = [task_row(raw, keys, source) for raw in tasks]
    return pa.Table.from_pylist(rows, schema=SCHEMA)


@dataclass(frozen=True)
class _Plan:
    """What one read task reads: ``load`` gives its raw tasks, ``rows`` an estimate for Ray."""

    load: Callable[[], Iterable[Any]]
    rows: int | None
    size: int | None
    source: str


class TaskDatasource(Datasource):
    """Label Studio tasks for Ray Data, from a project, an export file, or tasks in memory.

    The driver plans the read (id ranges from two small API calls, or byte ranges from one
    streaming pass over the file); each read task fetches or parses its own range.
    """

    def __init__(
        self,
        *,
        project: int | None = None,
        export: str | os.PathLike[str] | None = None,
        tasks: Iterable[Mapping[str, Any]] | None = None,
        config: str | None = None,
        settings: Settings | None = None,
        tasks_per_read: int | None = None,
        ids: str | IdRanges | None = None,
    ) -> None:
        super().__init__()
        if sum(source is not None for source in (project, export, tasks)) != 1:
            raise ConfigurationError("read_tasks needs exactly one of project=, export= or tasks=")
        if ids is not None and project is None:
            raise ConfigurationError("ids= chooses the tasks of a project: give project= (filter a file when writing)")
        self.ids: IdRanges | None = parse_ids(ids) if isinstance(ids, str) else ids
        self.settings = settings or Settings.from_env()
        self.project = project
        self.export = Path(export) if export is not None else None
        self.tasks = list(tasks) if tasks is not None else None
        if tasks_per_read is not None and tasks_per_read < 1:
            raise ConfigurationError(f"tasks_per_read must be at least 1, got {tasks_per_read}")
        self.tasks_per_read = tasks_per_read
        if project is not None and config is None:
            config = LabelStudioClient(self.settings).project(project).label_config
        self.config = config or None
        self.keys = resource_keys(parse_label_config(self.config)) if self.config else None

    def get_name(self) -> str:
        return "LabelStudioTasks"

    def estimate_inmemory_data_size(self) -> int | None:
        if self.export is not None:
            return self.export.stat().st_size
        return None

    def get_read_tasks(
        self, parallelism: int, per_task_row_limit: int | None = None, data_context: Any = None
    ) -> list[ReadTask]:
        keys = self.keys
        tasks = []
        for plan in self._plans(parallelism):

            def read(plan: _Plan = plan) -> Iterator[pa.Table]:
                yield rows_table(plan.load(), keys, plan.source)

            metadata = BlockMetadata(num_rows=plan.rows, size_bytes=plan.size, input_files=None, exec_stats=None)
            tasks.append(ReadTask(read, metadata, schema=SCHEMA, per_task_row_limit=per_task_row_limit))
        return tasks

    def _plans(self, parallelism: int) -> list[_Plan]:
        if self.tasks is not None:
            per = max(1, -(-len(self.tasks) // max(1, parallelism)))
            parts = [self.tasks[start : start + per] for start in range(0, len(self.tasks), per)]
            return [_Plan(functools.partial(list, part), len(part), None, "the tasks given") for part in parts]
        if self.export is not None:
            return self._export_plans()
        return self._project_plans()

    def _project_plans(self) -> list[_Plan]:
        assert self.project is not None
        settings, project, ids = self.settings, self.project, self.ids
        client = LabelStudioClient(settings)
        # Only the ranges of ids asked for are exported (cut to ``ids``), as the chunked export does.
        ranges = client.export_id_ranges(project, chunk_size=self.tasks_per_read, within=ids)
        source = f"project {project}"
        if ranges is None:
            # Ids too sparse for ranges: one read task exports the project in one piece.
            return [_Plan(functools.partial(_whole, settings, project, ids), None, None, source)]
        return [
            _Plan(functools.partial(_export_ids, settings, project, chunk), len(chunk), None, source)
            for chunk in ranges
        ]

    def _export_plans(self) -> list[_Plan]:
        export = self.export
        assert export is not None
        if first_char(export) == "[":
            spans = _grouped(array_item_spans(export), self.tasks_per_read or EXPORT_TASKS_PER_READ)
            return [
                _Plan(functools.partial(_read_span, export, start, end), count, end - start, export.name)
                for start, end, count in spans
            ]
        # JSON lines, a single task, a folder of task files: read whole by one read task.
        return [_Plan(lambda: read_export(export).raw(), None, None, export.name)]


def _grouped(spans: Iterable[tuple[int, int]], size: int) -> Iterator[tuple[int, int, int]]:
    """Consecutive item spans, ``size`` at a time: (first start, last end, items)."""
    first = last = count = 0
    for start, end in spans:
        if count == 0:
            first = start
        last, count = end, count + 1
        if count == size:
            yield first, last, count
            count = 0
    if count:
        yield first, last, count


def _whole(settings: Settings, project: int, ids: IdRanges | None) -> Iterator[Mapping[str, Any]]:
    """The project exported in one piece, only the tasks with ``ids`` passed on (when given)."""
    for raw in whole_export(LabelStudioClient(settings), project):
        if ids is None or in_ranges(raw.get("id"), ids):
            yield raw


def _export_ids(settings: Settings, project: int, ids: range) -> list[Mapping[str, Any]]:
    return LabelStudioClient(settings).export_ids(project, ids)


def _read_span(export: Path, start: int, end: int) -> Iterator[Any]:
    with open(export, "rb") as handle:
        handle.seek(start)
        items = handle.read(end - start)
    yield from array_items_of(items, export.name)


def read_tasks(
    *,
    project: int | None = None,
    export: str | os.PathLike[str] | None = None,
    tasks: Iterable[Mapping[str, Any]] | None = None,
    config: str | None = None,
    settings: Settings | None = None,
    tasks_per_read: int | None = None,
    ids: str | IdRanges | None = None,
    num_cpus: float = 0.25,
    override_num_blocks: int | None = None,
) -> Dataset:
    """A project's tasks (or an export file's, or tasks given) as a :class:`ray.data.Dataset`,
    one row per task (columns: :data:`COLUMNS`).

    ``config``: the labeling config XML, which says which task data keys hold files (read from the
    project when not given; without one, any value that looks like a URL counts).
    ``tasks_per_read``: tasks per read task (default: the chunks of the export API, and
    :data:`EXPORT_TASKS_PER_READ` for a file). ``num_cpus``: what each read task reserves (it
    mostly waits for Label Studio or the disk; a whole CPU per read task would leave none to the
    resolving actors on small nodes). ``ids``: only the project's tasks with these ids
    (``"1-900,1200"``, or (first, last) ranges), the only ones asked of Label Studio.

    >>> ds = read_tasks(project=3)  # doctest: +SKIP
    >>> ds.take(1)[0]["resources"]  # doctest: +SKIP
    ['/data/upload/3/a.jpg']
    """
    source = TaskDatasource(
        project=project,
        export=export,
        tasks=tasks,
        config=config,
        settings=settings,
        tasks_per_read=tasks_per_read,
        ids=ids,
    )
    return read_datasource(source, num_cpus=num_cpus, override_num_blocks=override_num_blocks)


__all__ = ["COLUMNS", "SCHEMA", "TaskDatasource", "raw_task", "read_tasks", "task_row"]
