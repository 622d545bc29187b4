"""A dataset folder from a Ray Dataset of tasks: a :class:`DatasetSink` whose write tasks each build
a complete dataset of their own tasks (the single-machine build, on the worker: conversion, files
placed from the cache, a manifest) in a staging folder beside the target; the driver then merges
the shards (:mod:`ml_data.ray.merge`) and moves the result into place in one rename.

Nothing partial is ever visible: a shard is built in a temporary folder and renamed when whole; a
write task that dies (or is retried) leaves only folders no write result names, removed with the
staging folder; the dataset replaces the previous one only once complete.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
from ray.data import Dataset
from ray.data.block import Block, BlockAccessor
from ray.data.datasource import Datasink, WriteResult

from ml_data.config import Settings
from ml_data.converters import get_format
from ml_data.converters.naming import Renamed
from ml_data.errors import ConfigurationError, FormatNotSupported, NothingToWrite
from ml_data.fsutil import atomic_folder
from ml_data.jsonio import dumps, loads
from ml_data.labelstudio import LabelStudioClient
from ml_data.pipeline.build import Build, file_renames
from ml_data.pipeline.filters import project_filters, reader_filter
from ml_data.pipeline.manifest import check_target
from ml_data.pipeline.options import DatasetOptions, parse_split, with_format
from ml_data.pipeline.plan import prepare
from ml_data.pipeline.report import DatasetReport, why_empty_dataset
from ml_data.ray.merge import merge_shards, write_manifest
from ml_data.ray.read import raw_task
from ml_data.ray.transfer import ShardFailure, gather_files
from ml_data.tasks.filtering import FilterCounts, TaskFilter
from ml_data.tasks.label_config import parse_label_config
from ml_data.tasks.resources import resource_items, resource_keys

logger = logging.getLogger(__name__)


#: what a write task returns: its shard folder's name and its build's counts
ShardResult = dict[str, Any]
#: the counts of a shard's report that add up to the dataset's
_COUNTS = ("resources", "resources_resolved", "files_linked", "files_copied")


class DatasetSink(Datasink[ShardResult | None]):
    """Writes rows of :func:`ml_data.ray.read_tasks` (resolved or not) as one dataset folder."""

    def __init__(
        self,
        out: Path,
        *,
        config: str | None,
        options: DatasetOptions,
        source: dict[str, Any],
        settings: Settings,
        renamed: Renamed | None = None,
        task_filter: TaskFilter | None = None,
        left_out: Mapping[str, int] | None = None,
    ) -> None:
        self.out = Path(out).absolute()
        #: the file names decided for the whole dataset (each shard sees only its own tasks)
        self.renamed = renamed
        self.config = config
        self.options = options
        self.source = source
        self.settings = settings
        self.task_filter = task_filter if task_filter is not None else reader_filter(options)
        self.left_out = dict(left_out or {})
        self.staging = self.out.parent / f".{self.out.name}.shards-{uuid.uuid4().hex[:12]}"
        self.report: DatasetReport | None = None

    def on_write_start(self, schema: Any = None) -> None:
        check_target(self.out)
        self.staging.mkdir(parents=True)

    def write(self, blocks: Iterable[Block], ctx: Any) -> ShardResult | None:
        """Build this write task's shard (None when it had no rows)."""
        rows: list[Mapping[str, Any]] = []
        for block in blocks:
            rows.extend(BlockAccessor.for_block(block).iter_rows(public_row_format=False))
        if not rows:
            return None
        name = f"shard-{uuid.uuid4().hex[:12]}"
        export = self.staging / f".{name}.export.json"
        brought = self.staging / f".{name}.files"
        with open(export, "wb") as handle:
            handle.write(b"[")
            for number, row in enumerate(rows):
                handle.write((b",\n" if number else b"") + dumps(raw_task(row)))
            handle.write(b"]")
        try:
            prefetched = gather_files(rows, brought)
            plan = prepare(
                export,
                self.options,
                self.settings,
                out=self.staging / name,
                config=self.config,
                manifest_source=self.source,
                prefetched=prefetched,
                allow_empty=True,
                renamed=self.renamed,
                task_filter=self.task_filter,
            )
            report = Build(plan, self.settings).run()
        finally:
            export.unlink(missing_ok=True)
            shutil.rmtree(brought, ignore_errors=True)
        return {"shard": name, **{count: getattr(report, count) for count in _COUNTS}, "failures": report.failures}

    def on_write_complete(self, write_result: WriteResult[ShardResult | None]) -> None:
        results = [result for result in write_result.write_returns if result]
        shards = sorted(self.staging / result["shard"] for result in results)
        try:
            with atomic_folder(self.out) as building:
                if not shards:
                    export = _empty_export(self.staging)
                    plan = prepare(
                        export,
                        self.options,
                        self.settings,
                        out=self.staging / "empty",
                        config=self.config,
                        manifest_source=self.source,
                        task_filter=self.task_filter,
                    )
                    Build(plan, self.settings).run()
                    shards = [self.staging / "empty"]
                manifest = merge_shards(shards, building, self.out, format=self.options.format)
                if self.options.filtered:
                    manifest["left_out"] = {**(manifest.get("left_out") or {}), **self.left_out}
                    manifest.setdefault("regions_dropped", {})
                _refuse_empty(manifest, self.out)
                write_manifest(building, manifest)
        finally:
            shutil.rmtree(self.staging, ignore_errors=True)
        self.report = _report(self.out, self.options.format, manifest, results)

    def on_write_failed(self, error: Exception) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)

    def get_name(self) -> str:
        return "LabelStudioDataset"


def _refuse_empty(manifest: Mapping[str, Any], out: Path) -> None:
    """The rule single-machine fetch applies, to the merged dataset: no item at all is a
    :class:`NothingToWrite` (the shards, each alone, may hold nothing)."""
    tasks = manifest.get("tasks") or {}
    empty = why_empty_dataset(
        len(tasks),
        (manifest.get("conversions") or {}).values(),
        excluded=sum(1 for info in tasks.values() if info.get("excluded")),
        failures=manifest.get("failures") or {},
        left_out=manifest.get("left_out") or {},
    )
    if empty is not None:
        raise NothingToWrite(f"{empty}; {out} is unchanged")


def _report(out: Path, format: str, manifest: Mapping[str, Any], results: list[ShardResult]) -> DatasetReport:
    """The dataset's report: counts from the manifest and the shards' builds."""
    report = DatasetReport(out=out, format=format, source=manifest.get("source") or {})
    tasks = manifest.get("tasks") or {}
    report.tasks = report.tasks_changed = len(tasks)
    for count in _COUNTS:
        setattr(report, count, sum(int(result.get(count) or 0) for result in results))
    report.bytes_total = sum(int(entry.get("size") or 0) for entry in (manifest.get("files") or {}).values())
    report.failures = dict(manifest.get("failures") or {})
    report.left_out = dict(manifest.get("left_out") or {})
    report.regions_dropped = dict(manifest.get("regions_dropped") or {})
    split = (manifest.get("settings") or {}).get("split")
    if isinstance(split, Mapping):
        report.splits = {name: sum(1 for info in tasks.values() if info.get("split") == name) for name in split}
    return report


def dataset_names(
    ds: Dataset, keys: list[str] | None, task_filter: TaskFilter | None = None
) -> dict[tuple[str, str | None, str], str]:
    """The renamed file stems of the dataset of ``ds``'s rows, decided as single-machine ``fetch``
    decides them (:func:`~ml_data.pipeline.build.file_renames`): from the tasks ``task_filter``
    keeps, each resource with its item (``keys``: the config's resource keys)."""
    active = task_filter is not None and task_filter.active
    counts = FilterCounts()

    def triples() -> Iterator[tuple[Any, str | None, str]]:
        rows = ds if active else ds.select_columns(["id", "data"])
        for batch in rows.iter_batches(batch_format="pyarrow", batch_size=4096):
            assert isinstance(batch, pa.Table)
            for row in batch.to_pylist():
                if task_filter is not None and active:
                    kept = task_filter.apply(raw_task(row), counts)
                    data = kept.get("data") if kept is not None else None
                else:
                    data = loads(row["data"])
                for item, url in resource_items(data, keys) if data is not None else ():
                    yield row["id"], item, url

    return file_renames(triples())


def _empty_export(staging: Path) -> Path:
    export = staging / ".empty.export.json"
    export.write_bytes(b"[]")
    return export


def write_dataset(
    ds: Dataset,
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    split: str | Mapping[str, float] | None = None,
    project: int | None = None,
    config: str | None = None,
    source: dict[str, Any] | None = None,
    options: DatasetOptions | None = None,
    settings: Settings | None = None,
    concurrency: int | None = None,
    num_cpus: float = 0.5,
    task_filter: TaskFilter | None = None,
    left_out: Mapping[str, int] | None = None,
) -> DatasetReport:
    """Write ``ds`` (rows of :func:`read_tasks`, after :func:`resolve_resources` or not: a row's
    unresolved resources are resolved by its write task) as a ``format`` dataset at ``path``, with
    the ``manifest.json`` single-machine ``fetch`` writes.

    ``project``: the Label Studio project the tasks come from (its labeling config and the
    manifest's source); or ``config`` (the labeling config XML) and ``source``.
    ``path`` is a folder every worker sees (a shared volume on a cluster); the cache need not be:
    a write task has the files other nodes resolved sent over (:mod:`ml_data.ray.transfer`).
    ``ds`` is materialized first (its rows kept in Ray's object store until the dataset is
    written): the file names of every shard depend on all the tasks. ``num_cpus``: what each
    write task reserves. The options' filters are judged on the rows (a ``view`` is refused: the
    rows are read already; ``fetch(project, engine="ray")`` asks Label Studio for a tab's tasks);
    ``task_filter`` replaces them, ``left_out`` adds what the source left out already.

    >>> write_dataset(resolve_resources(read_tasks(project=3)), "data/yolo", format="yolo",
    ...               split="train=0.8,val=0.2", project=3)  # doctest: +SKIP
    """
    settings = settings or Settings.from_env()
    options = with_format(options, format)
    if split is not None:
        options = dataclasses.replace(options, split=parse_split(split))
    if options.stratify or options.group_by:
        # Each write task sees only its shard: a split of all the tasks cannot be decided there.
        raise ConfigurationError("stratify and group_by are not supported with Ray yet: use the local engine")
    if task_filter is None and options.view is not None:
        raise ConfigurationError(
            "view: write_dataset gets tasks already read; fetch(project, engine='ray') asks Label Studio "
            "for a Data Manager tab's tasks"
        )
    if project is not None:
        client = LabelStudioClient(settings)
        if task_filter is None:
            task_filter = project_filters(client, project, options, server=False)
        info = client.project(project)
        config = config if config is not None else info.label_config
        source = source or {"label_studio_url": client.base_url, "project": info.id, "title": info.title}
    if source is None:
        raise ConfigurationError("write_dataset needs project= or source= (what the manifest names as the source)")
    fmt = get_format(options.format)
    reason = fmt.check(parse_label_config(config) if config else None)
    if reason is not None:
        raise FormatNotSupported(reason)
    reason = fmt.check_splits(list(options.split or ()))
    if reason is not None:
        raise ConfigurationError(reason)
    sink = DatasetSink(
        Path(path),
        config=config,
        options=options,
        source=source,
        settings=settings,
        task_filter=task_filter,
        left_out=left_out,
    )
    # The names of the files depend on every task (which has the lowest id of a shared name):
    # the rows are read and resolved once, their names decided, then the shards written.
    ds = ds.materialize()
    sink.renamed = dataset_names(ds, resource_keys(parse_label_config(config) if config else None), sink.task_filter)
    ds.write_datasink(sink, concurrency=concurrency, ray_remote_args={"num_cpus": num_cpus})
    assert sink.report is not None
    return sink.report


__all__ = ["DatasetSink", "ShardFailure", "dataset_names", "write_dataset"]
